import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { paths } from '@fleetforge/shared';
import {
  testProjectId,
  FakeClock,
  MemoryBlobStore,
  MemoryBus,
  RecordingMetricsSink,
  SeqIds,
} from '@fleetforge/shared/testing';
import { FirestoreStateStore } from '../adapters/firestore-state-store';
import { nodeDigests } from '../adapters/node-digests';
import { testDeps } from '../deps';
import { auditBilling, billingExport, ingestUsage } from './billing-export';

const log = pino({ level: 'silent' });

describe('billingExport on the Firestore emulator', () => {
  it('ingests idempotently, queries the window, commits the chain head and usage docs, and verifies', async () => {
    const store = new FirestoreStateStore(testProjectId('bill'));
    const deps = testDeps({
      store,
      bus: new MemoryBus(),
      metrics: new RecordingMetricsSink(),
      clock: new FakeClock('2026-11-22T00:01:00.000Z'),
      log,
      ids: new SeqIds(),
    });
    const billing = { blobs: new MemoryBlobStore(), key: new Uint8Array(randomBytes(32)), digests: nodeDigests };
    const s = (id: string, start: string, end: string) => ({
      id,
      tenant: 'acme',
      tier: 'standard' as const,
      world: 'w1',
      source: 'process' as const,
      estimated: false,
      agentId: 'a1',
      start,
      end,
      cpuMillis: 1000,
      memoryMiBSeconds: 64,
      vclusterMillis: 0,
      cellMillis: 10_000,
    });
    const report = {
      kind: 'usage' as const,
      agentId: 'a1',
      at: '2026-11-22T00:00:30.000Z',
      correlationId: 'c',
      samples: [
        s('i1', '2026-11-21T23:59:50.000Z', '2026-11-22T00:00:00.000Z'),
        s('i2', '2026-11-22T00:00:00.000Z', '2026-11-22T00:00:10.000Z'),
      ],
    };
    await ingestUsage(deps, report, log);
    await ingestUsage(deps, report, log);
    const r = await billingExport(deps, billing, { now: false }, 'system:billingExport', 'c');
    expect(r).toMatchObject({ status: 'exported', samples: 1, export: { id: 'day-2026-11-21', seq: 1, tenants: 1 } });
    expect(await store.get(paths.billingHead())).toMatchObject({ seq: 1, id: 'day-2026-11-21', pending: null });
    expect(await store.get(paths.tenantUsage('acme', 'day-2026-11-21'))).toMatchObject({
      lines: [expect.objectContaining({ cpuMillis: 1000, samples: 1 })],
    });
    expect((await auditBilling(deps, billing, 'token:fin', 'c')).ok).toBe(true);
    await store.close();
  });
});
