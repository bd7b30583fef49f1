import { link, mkdir, readFile, readdir, rm, stat, unlink, writeFile, rename } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { FleetError, type BlobInfo, type BlobStore } from '@fleetforge/shared';

/**
 * BlobStore on a local folder: the local stack's stand-in for a Cloud Storage bucket.
 * Writes go to a temp file and are renamed, so a reader never sees half an export.
 * Content types live in a sidecar `.meta` file.
 */
export class LocalBlobStore implements BlobStore {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  private file(key: string): string {
    const f = resolve(this.root, key);
    if (!f.startsWith(this.root + sep) || key.endsWith('.meta')) {
      throw new FleetError('INVALID_ARGUMENT', `invalid blob key: ${key}`);
    }
    return f;
  }

  async put(key: string, body: Uint8Array | string, contentType: string): Promise<void> {
    const f = this.file(key);
    await mkdir(dirname(f), { recursive: true });
    const tmp = `${f}.tmp-${process.pid}-${Date.now()}`;
    await writeFile(tmp, body);
    await writeFile(`${f}.meta`, JSON.stringify({ contentType }));
    await rename(tmp, f);
  }

  /** Create-only: the body is written aside and hard-linked into place; link() fails atomically if the key exists. */
  async create(key: string, body: Uint8Array | string, contentType: string): Promise<void> {
    const f = this.file(key);
    await mkdir(dirname(f), { recursive: true });
    const tmp = `${f}.tmp-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    await writeFile(tmp, body);
    try {
      await writeFile(`${f}.meta`, JSON.stringify({ contentType }), { flag: 'wx' }).catch((err: unknown) => {
        // A meta file left by a crashed create of the same key is not a winner; the link below decides.
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      });
      await link(tmp, f);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new FleetError('ALREADY_EXISTS', `blob ${key} already exists`);
      }
      throw err;
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      return new Uint8Array(await readFile(this.file(key)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async list(prefix: string): Promise<BlobInfo[]> {
    const out: BlobInfo[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      for (const e of entries) {
        const full = join(dir, e.name);
        if (e.isDirectory()) await walk(full);
        else if (!e.name.endsWith('.meta') && !e.name.includes('.tmp-')) {
          const key = relative(this.root, full).split(sep).join('/');
          if (!key.startsWith(prefix)) continue;
          const meta = await readFile(`${full}.meta`, 'utf8').then(
            (t) => (JSON.parse(t) as { contentType: string }).contentType,
            () => 'application/octet-stream',
          );
          out.push({ key, size: (await stat(full)).size, contentType: meta });
        }
      }
    };
    await walk(this.root);
    return out.sort((a, b) => (a.key < b.key ? -1 : 1));
  }

  async delete(key: string): Promise<void> {
    const f = this.file(key);
    await rm(f, { force: true });
    await rm(`${f}.meta`, { force: true });
  }
}
