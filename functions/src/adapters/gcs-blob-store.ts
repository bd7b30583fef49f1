import { Storage, type Bucket, type StorageOptions } from '@google-cloud/storage';
import { FleetError, type BlobInfo, type BlobStore } from '@fleetforge/shared';

/** The status of a failed GCS call: ApiError has `code`, GaxiosError (resumable uploads) `status`. */
function status(err: unknown): number | undefined {
  const e = err as { code?: unknown; status?: unknown; response?: { status?: unknown } };
  for (const v of [e.code, e.status, e.response?.status]) if (typeof v === 'number') return v;
  return undefined;
}

/**
 * Failures with no HTTP answer: the request never reached GCS or its answer was lost.
 * The client has already retried them; they are transient all the same (UNAVAILABLE).
 */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

function networkCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; errno?: unknown; cause?: { code?: unknown } };
  for (const v of [e.code, e.errno, e.cause?.code]) {
    if (typeof v === 'string' && (NETWORK_CODES.has(v) || v.startsWith('UND_ERR_'))) return v;
  }
  return undefined;
}

function translate(err: unknown, what: string): FleetError {
  const s = status(err);
  const message = `${what}: ${(err as Error).message}`;
  if (s === undefined && networkCode(err) !== undefined) return new FleetError('UNAVAILABLE', message, { cause: err });
  if (s === 412) return new FleetError('ALREADY_EXISTS', message, { cause: err });
  if (s === 404) return new FleetError('NOT_FOUND', message, { cause: err });
  if (s === 403 || s === 401) return new FleetError('PERMISSION_DENIED', message, { cause: err });
  if (s === 408 || s === 429 || (s !== undefined && s >= 500))
    return new FleetError('UNAVAILABLE', message, { cause: err });
  return new FleetError('INTERNAL', message, { cause: err });
}

/**
 * BlobStore on a Cloud Storage bucket. `create` is `ifGenerationMatch: 0`: GCS
 * itself refuses to overwrite (412), so concurrent exporters cannot both win.
 * Uploads are single-request (resumable adds nothing for export-sized objects).
 */
export class GcsBlobStore implements BlobStore {
  private readonly bucket: Bucket;

  constructor(bucketName: string, options: StorageOptions = {}) {
    this.bucket = new Storage(options).bucket(bucketName);
  }

  private async save(key: string, body: Uint8Array | string, contentType: string, createOnly: boolean) {
    try {
      await this.bucket.file(key).save(typeof body === 'string' ? Buffer.from(body) : Buffer.from(body), {
        resumable: false,
        contentType,
        ...(createOnly ? { preconditionOpts: { ifGenerationMatch: 0 } } : {}),
      });
    } catch (err) {
      throw translate(err, `write gs://${this.bucket.name}/${key}`);
    }
  }

  async put(key: string, body: Uint8Array | string, contentType: string): Promise<void> {
    await this.save(key, body, contentType, false);
  }

  async create(key: string, body: Uint8Array | string, contentType: string): Promise<void> {
    await this.save(key, body, contentType, true);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const [buf] = await this.bucket.file(key).download();
      return new Uint8Array(buf);
    } catch (err) {
      if (status(err) === 404) return undefined;
      throw translate(err, `read gs://${this.bucket.name}/${key}`);
    }
  }

  async list(prefix: string): Promise<BlobInfo[]> {
    try {
      const [files] = await this.bucket.getFiles({ prefix, autoPaginate: true });
      return files
        .map((f) => ({
          key: f.name,
          size: Number(f.metadata.size ?? 0),
          contentType: f.metadata.contentType ?? 'application/octet-stream',
        }))
        .sort((a, b) => (a.key < b.key ? -1 : 1));
    } catch (err) {
      throw translate(err, `list gs://${this.bucket.name}/${prefix}`);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.bucket.file(key).delete({ ignoreNotFound: true });
    } catch (err) {
      throw translate(err, `delete gs://${this.bucket.name}/${key}`);
    }
  }
}
