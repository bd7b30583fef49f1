export { Agent, type AgentOptions } from './agent';
export { ProcessDriver, cellRecords, reapCells, type ProcessDriverOptions } from './drivers/process-driver';
export { HttpCellClient } from './cell-client';
export { CellRuntime, type CellRuntimeOptions } from './cell/runtime';
export { RedisSessionCheckpoint, checkpointKeys, type RedisCheckpointOptions } from './cell/redis-checkpoint';
export { WriteBehindSessionStore, type WriteBehindOptions } from './cell/write-behind-store';
export { LABELS as CELL_POD_LABELS } from './drivers/kubernetes-driver';
