import { stateStoreContract } from '../testing';
import { MemoryStateStore } from './memory-state-store';

stateStoreContract('MemoryStateStore', async () => new MemoryStateStore());
