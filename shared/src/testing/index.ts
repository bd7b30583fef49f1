/**
 * For tests only (`@fleetforge/shared/testing`): the in-memory fakes of the ports and
 * the contract suites (jest) every implementation passes. Production code never imports
 * this; the production clock and ids (`systemClock`, `randomIds`) are in the main entry.
 */
export * from '../fakes/memory-state-store';
export * from '../fakes/memory-bus';
export * from '../fakes/memory-blob-store';
export * from '../fakes/memory-session-checkpoint';
export * from '../fakes/recording-metrics';
export * from '../fakes/clock';
export * from '../fakes/fake-driver';
export { stateStoreContract } from './state-store-contract';
export { busContract, CONTRACT_SUBSCRIPTIONS } from './bus-contract';
export { blobStoreContract } from './blob-store-contract';

/** A project id of its own per test: the emulators keep projects apart. */
export function testProjectId(label: string): string {
  return `ff-${label}-${Math.random().toString(36).slice(2, 10)}`.slice(0, 30);
}
export { sessionCheckpointContract } from './session-checkpoint-contract';
export { tenantFixture, worldFixture, type TenantFixture, type WorldFixture } from './fixtures';
export { fleetErrorFrom } from './errors';
