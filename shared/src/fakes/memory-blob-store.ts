import { FleetError } from '../core/errors';
import type { BlobInfo, BlobStore } from '../ports/interfaces';

/** In-memory BlobStore for unit tests. */
export class MemoryBlobStore implements BlobStore {
  private readonly blobs = new Map<string, { body: Uint8Array; contentType: string }>();

  async put(key: string, body: Uint8Array | string, contentType: string): Promise<void> {
    const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : new Uint8Array(body);
    this.blobs.set(key, { body: bytes, contentType });
  }

  async create(key: string, body: Uint8Array | string, contentType: string): Promise<void> {
    if (this.blobs.has(key)) throw new FleetError('ALREADY_EXISTS', `blob ${key} already exists`);
    await this.put(key, body, contentType);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const b = this.blobs.get(key);
    return b ? new Uint8Array(b.body) : undefined;
  }

  async list(prefix: string): Promise<BlobInfo[]> {
    return [...this.blobs]
      .filter(([k]) => k.startsWith(prefix))
      .map(([key, b]) => ({ key, size: b.body.byteLength, contentType: b.contentType }))
      .sort((a, b) => (a.key < b.key ? -1 : 1));
  }

  async delete(key: string): Promise<void> {
    this.blobs.delete(key);
  }
}
