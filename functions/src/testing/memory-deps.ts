/** Test-only: production code never imports this file (it pulls in `@fleetforge/shared/testing`). */
import pino from 'pino';
import { MemoryBus, MemoryStateStore, RecordingMetricsSink } from '@fleetforge/shared/testing';
import { testDeps, type Deps } from '../deps';

/** {@link testDeps} on the in-memory fakes and a silent logger: what most handler and API tests need. */
export function memoryDeps(
  partial: Partial<Deps> = {},
): Deps & { store: MemoryStateStore; bus: MemoryBus; metrics: RecordingMetricsSink } {
  return testDeps({
    store: new MemoryStateStore(),
    bus: new MemoryBus(),
    metrics: new RecordingMetricsSink(),
    log: pino({ level: 'silent' }),
    ...partial,
  }) as Deps & { store: MemoryStateStore; bus: MemoryBus; metrics: RecordingMetricsSink };
}
