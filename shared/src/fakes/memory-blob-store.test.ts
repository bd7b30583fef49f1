import { blobStoreContract } from '../testing';
import { MemoryBlobStore } from './memory-blob-store';

blobStoreContract('MemoryBlobStore', async () => new MemoryBlobStore());
