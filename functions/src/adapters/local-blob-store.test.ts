import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blobStoreContract } from '@fleetforge/shared/testing';
import { LocalBlobStore } from './local-blob-store';

blobStoreContract('LocalBlobStore', async () => new LocalBlobStore(mkdtempSync(join(tmpdir(), 'ff-blob-'))));

describe('LocalBlobStore', () => {
  it.each(['../escape', '/abs/../../etc/passwd', 'a/b.meta'])('rejects the key %s', async (key) => {
    const store = new LocalBlobStore(mkdtempSync(join(tmpdir(), 'ff-blob-')));
    await expect(store.put(key, 'x', 'text/plain')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
