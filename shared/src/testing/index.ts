/** Contract suites for the ports (jest). Test files import these; production code never does. */
export { stateStoreContract } from './state-store-contract';
export { busContract, CONTRACT_SUBSCRIPTIONS } from './bus-contract';
export { blobStoreContract } from './blob-store-contract';

/** A project id of its own per test: the emulators keep projects apart. */
export function testProjectId(label: string): string {
  return `ff-${label}-${Math.random().toString(36).slice(2, 10)}`.slice(0, 30);
}
export { sessionCheckpointContract } from './session-checkpoint-contract';
