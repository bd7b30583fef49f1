import { sessionCheckpointContract } from '../testing/session-checkpoint-contract';
import { MemoryCheckpointServer } from './memory-session-checkpoint';

const server = new MemoryCheckpointServer();
sessionCheckpointContract('memory', async (scope, incarnation) => server.checkpoint(scope, incarnation));
