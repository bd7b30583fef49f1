import { createServer, type AddressInfo } from 'node:net';
import { Storage, type ApiError } from '@google-cloud/storage';
import { FleetError } from '@fleetforge/shared';
import { blobStoreContract } from '@fleetforge/shared/testing';
import { startGcsServer, type GcsServer } from '../testing/gcs-server';
import { GcsBlobStore } from './gcs-blob-store';

/**
 * GcsBlobStore against a server speaking the GCS JSON API: firebase-tools' Storage
 * emulator in-process, behind a proxy that enforces ifGenerationMatch (the emulator
 * ignores preconditions). Listings are capped at 10 items a page so paging shows.
 */
const PAGE = 10;
let server: GcsServer;
let buckets = 0;

beforeAll(async () => {
  server = await startGcsServer({ maxPageSize: PAGE });
});
afterAll(async () => {
  await server?.stop();
});

/** A bucket of its own per store: the emulator creates buckets on first use. */
function freshStore(): { store: GcsBlobStore; bucket: string } {
  const bucket = `ff-blob-${process.pid}-${++buckets}`;
  return { store: new GcsBlobStore(bucket, { apiEndpoint: server.endpoint, projectId: 'demo-fleetforge' }), bucket };
}

blobStoreContract('GcsBlobStore on the firebase-tools Storage emulator', async () => freshStore().store);

describe('GcsBlobStore on the firebase-tools Storage emulator', () => {
  it('creates with ifGenerationMatch=0 and maps the 412 to a non-retryable ALREADY_EXISTS', async () => {
    const { store, bucket } = freshStore();
    const from = server.requests.length;
    await store.create('exports/x.json', '{"a":1}', 'application/json');
    const err = await store.create('exports/x.json', '{"a":2}', 'application/json').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FleetError);
    expect(err).toMatchObject({ code: 'ALREADY_EXISTS', retryable: false, httpStatus: 409 });
    expect(((err as FleetError).cause as { code?: unknown }).code).toBe(412);
    expect((err as Error).message).toContain(`gs://${bucket}/exports/x.json`);
    const uploads = server.requests.slice(from).filter((r) => r.startsWith('POST /upload/'));
    expect(uploads).toHaveLength(2);
    for (const u of uploads)
      expect(new URL(u.split(' ')[1]!, 'http://x').searchParams.get('ifGenerationMatch')).toBe('0');
  });

  it('keeps content type and size in listings, and put overwrites without a precondition', async () => {
    const { store } = freshStore();
    const from = server.requests.length;
    await store.put('r/one.csv', 'a,b\n', 'text/csv');
    await store.put('r/one.csv', 'a,b\n1,2\n', 'text/csv; charset=utf-8');
    expect(await store.list('r/')).toEqual([{ key: 'r/one.csv', size: 8, contentType: 'text/csv; charset=utf-8' }]);
    expect(server.requests.slice(from).filter((r) => r.includes('ifGeneration'))).toEqual([]);
  });

  it('follows nextPageToken: 25 objects come back in 3 pages of at most 10', async () => {
    const { store } = freshStore();
    const keys = Array.from({ length: 25 }, (_, i) => `p/${String(i).padStart(2, '0')}`);
    for (const k of keys) await store.put(k, k, 'text/plain');
    const from = server.requests.length;
    expect((await store.list('p/')).map((b) => b.key)).toEqual(keys);
    const pages = server.requests.slice(from).filter((r) => /^GET \/storage\/v1\/b\/[^/]+\/o\?/.test(r));
    expect(pages).toHaveLength(3);
    expect(pages.slice(1).every((r) => r.includes('pageToken='))).toBe(true);
  });

  it('answers network failures with a retryable UNAVAILABLE, not INTERNAL', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port: p } = s.address() as AddressInfo;
        s.close(() => resolve(p));
      });
    });
    const store = new GcsBlobStore('down', {
      apiEndpoint: `http://127.0.0.1:${port}`,
      projectId: 'demo-fleetforge',
      // The client's own retries (download backs off for ~15 s even with maxRetries: 0) are not under test.
      retryOptions: { autoRetry: false },
    });
    for (const op of [
      () => store.get('k'),
      () => store.create('k', 'x', 'text/plain'),
      () => store.put('k', 'x', 'text/plain'),
      () => store.list(''),
      () => store.delete('k'),
    ]) {
      await expect(op()).rejects.toMatchObject({ code: 'UNAVAILABLE', retryable: true });
    }
  });
});

/** The helper itself: the preconditions it enforces are the ones GCS documents. */
describe('gcs-server precondition proxy', () => {
  const bucket = () =>
    new Storage({ apiEndpoint: server.endpoint, projectId: 'demo-fleetforge' }).bucket(freshStore().bucket);

  it('enforces ifGenerationMatch=0 on simple and resumable uploads (412, the first body kept)', async () => {
    const b = bucket();
    for (const resumable of [false, true]) {
      const f = b.file(`k-${resumable}`);
      await f.save('first', { resumable, preconditionOpts: { ifGenerationMatch: 0 } });
      const err = await f
        .save('second', { resumable, preconditionOpts: { ifGenerationMatch: 0 } })
        .catch((e: unknown) => e);
      expect((err as ApiError).code ?? (err as { status?: number }).status).toBe(412);
      expect((await f.download())[0].toString()).toBe('first');
    }
  });

  it('enforces ifGenerationMatch=<generation> (compare-and-swap) and ifGenerationNotMatch', async () => {
    const f = bucket().file('cas');
    await f.save('v1', { resumable: false });
    const [meta] = await f.getMetadata();
    const gen = Number(meta.generation);
    await f.save('v2', { resumable: false, preconditionOpts: { ifGenerationMatch: gen } });
    const stale = await f
      .save('v3', { resumable: false, preconditionOpts: { ifGenerationMatch: gen } })
      .catch((e: unknown) => e);
    expect((stale as ApiError).code).toBe(412);
    const [now] = await f.getMetadata();
    const notMatch = await f
      .save('v4', { resumable: false, preconditionOpts: { ifGenerationNotMatch: Number(now.generation) } })
      .catch((e: unknown) => e);
    expect((notMatch as ApiError).code).toBe(412);
    expect((await f.download())[0].toString()).toBe('v2');
  });

  it('lets exactly one of 5 concurrent create-only writes win', async () => {
    const f = bucket().file('race');
    const results = await Promise.allSettled(
      [1, 2, 3, 4, 5].map((i) => f.save(`body-${i}`, { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const codes = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as ApiError).code] : []));
    expect(codes).toEqual([412, 412, 412, 412]);
  });

  it('refuses (501) a precondition it does not enforce instead of ignoring it', async () => {
    const f = bucket().file('meta');
    await f.save('x', { resumable: false });
    const err = await f
      .save('y', { resumable: false, preconditionOpts: { ifMetagenerationMatch: 1 } })
      .catch((e: unknown) => e);
    expect((err as ApiError).code).toBe(501);
    expect((err as Error).message).toContain('ifMetagenerationMatch');
  });
});
