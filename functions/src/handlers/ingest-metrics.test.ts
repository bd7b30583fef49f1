import {
  AgentHeartbeatSchema,
  LOAD_WINDOW_SIZE,
  LoadDocSchema,
  historySince,
  paths,
  type CellSample,
} from '@fleetforge/shared';
import { FakeClock, SeqIds } from '@fleetforge/shared/testing';
import { memoryDeps } from '../testing/memory-deps';
import { TWO_CELL_WORLD, applyWorld, readyReport } from '../testing/worlds';
import { onAgentReport } from './on-agent-report';
import { CATCH_UP_PASS_MS, ingestMetrics } from './ingest-metrics';
import { reconcileWithReports, reconcileWorld } from '../usecases/reconcile-world';

/** A world of two cells (incarnation 1), applied through the API and reconciled once. */
async function setup(clock?: FakeClock, manifest = TWO_CELL_WORLD) {
  const deps = memoryDeps({ ids: new SeqIds(), ...(clock ? { clock } : {}) });
  const { store, metrics } = deps;
  expect((await applyWorld(deps, manifest)).status).toBe(201);
  await reconcileWorld(deps, { world: 'w', reason: 'test', correlationId: 'c' }, deps.log);
  const load = async (cell: string) => {
    const d = await store.get(paths.load('w', cell));
    return d ? LoadDocSchema.parse(d) : undefined;
  };
  const ingest = (samples: CellSample[]) => ingestMetrics(deps, { world: 'w', agentId: 'a', samples }, deps.log);
  return { store, metrics, deps, load, ingest };
}

const at = (s: number) => new Date(Date.UTC(2026, 11, 1, 10, 0, s)).toISOString();
const sample = (cell: string, s: number, o: Partial<CellSample> = {}): CellSample => ({
  cell,
  incarnation: 1,
  at: at(s),
  sessions: s,
  cpuMillis: 10,
  memoryMiB: 70,
  ...o,
});

describe('ingestMetrics', () => {
  const table: Array<{ name: string; batches: CellSample[][]; last: string; window: number[]; sessions: number }> = [
    { name: 'appends a sample', batches: [[sample('r0c0', 1)]], last: 'ok', window: [1], sessions: 1 },
    {
      name: 'appends a batch in time order, whatever order it came in',
      batches: [[sample('r0c0', 3), sample('r0c0', 1), sample('r0c0', 2)]],
      last: 'ok',
      window: [1, 2, 3],
      sessions: 3,
    },
    {
      name: 'a redelivered batch changes nothing',
      batches: [[sample('r0c0', 1)], [sample('r0c0', 1)]],
      last: 'stale',
      window: [1],
      sessions: 1,
    },
    {
      name: 'a sample older than the window is dropped (late delivery)',
      batches: [[sample('r0c0', 5)], [sample('r0c0', 4)]],
      last: 'stale',
      window: [5],
      sessions: 5,
    },
    {
      name: 'a sample of another incarnation is dropped',
      batches: [[sample('r0c0', 1)], [sample('r0c0', 2, { incarnation: 7 })]],
      last: 'stale',
      window: [1],
      sessions: 1,
    },
    {
      name: 'a sample for a cell the world does not have is dropped',
      batches: [[sample('r0c0', 1)], [sample('nope', 2)]],
      last: 'stale',
      window: [1],
      sessions: 1,
    },
  ];

  it.each(table)('$name', async ({ batches, last, window, sessions }) => {
    const t = await setup();
    let outcome = '';
    for (const b of batches) outcome = await t.ingest(b);
    expect(outcome).toBe(last);
    const l = await t.load('r0c0');
    expect(l?.window.map((p) => p.sessions)).toEqual(window);
    expect(l).toMatchObject({ cell: 'r0c0', incarnation: 1, sessions, lastReportAt: at(window.at(-1)!) });
    expect(await t.load('r0c1')).toBeUndefined();
  });

  it('caps the window at LOAD_WINDOW_SIZE, keeping the newest', async () => {
    const t = await setup();
    const n = LOAD_WINDOW_SIZE + 10;
    await t.ingest(Array.from({ length: n }, (_, i) => sample('r0c0', i)));
    const l = await t.load('r0c0');
    expect(l?.window).toHaveLength(LOAD_WINDOW_SIZE);
    expect(l?.window[0]?.sessions).toBe(10);
    expect(l?.window.at(-1)?.sessions).toBe(n - 1);
    // The 10 that left are folded into the history: sessions 0..9 from second 0.
    expect(l?.history?.from).toBe(Date.parse(at(0)));
    expect(historySince(l!.history!.maxSessions, Date.parse(at(0)))).toBe(9);
    expect(historySince(l!.history!.minSessions, Date.parse(at(5)))).toBe(5);
  });

  it('keeps folding across messages, and a new incarnation starts without history', async () => {
    const t = await setup();
    for (let s = 0; s < LOAD_WINDOW_SIZE + 30; s += 10) {
      await t.ingest(Array.from({ length: 10 }, (_, i) => sample('r0c0', s + i, { sessions: s + i === 3 ? 500 : 1 })));
    }
    const l = await t.load('r0c0');
    expect(l?.history?.from).toBe(Date.parse(at(0)));
    // Second 3 (500 sessions) left the window two messages ago and still counts.
    expect(historySince(l!.history!.maxSessions, Date.parse(at(0)))).toBe(500);
    expect(historySince(l!.history!.maxSessions, Date.parse(at(4)))).toBe(1);
    await t.store.update(paths.cell('w', 'r0c0'), { incarnation: 2 });
    await t.ingest([sample('r0c0', 200, { incarnation: 2 })]);
    expect((await t.load('r0c0'))?.history).toBeNull();
  });

  it('starts a new window for a new incarnation', async () => {
    const t = await setup();
    await t.ingest([sample('r0c0', 1), sample('r0c0', 2)]);
    await t.store.update(paths.cell('w', 'r0c0'), { incarnation: 2 });
    expect(await t.ingest([sample('r0c0', 3, { incarnation: 2 })])).toBe('ok');
    expect(await t.load('r0c0')).toMatchObject({ incarnation: 2, window: [expect.objectContaining({ sessions: 3 })] });
  });

  it('a backlog of late messages is stored in full but reconciled at most every CATCH_UP_PASS_MS', async () => {
    const clock = new FakeClock(at(100));
    const t = await setup(clock);
    const passes = () => t.metrics.observations.get('fleetforge_reconcile_duration_seconds{}')?.length ?? 0;
    const before = passes();
    // 99 s late: the first late message reconciles, the next ones right behind it do not.
    for (const s of [1, 2, 3]) expect(await t.ingest([sample('r0c0', s)])).toBe('ok');
    expect(passes()).toBe(before + 1);
    expect(t.metrics.observations.get('fleetforge_metrics_lag_seconds{}')).toEqual([99, 98, 97]);
    clock.advance(CATCH_UP_PASS_MS);
    await t.ingest([sample('r0c0', 4)]);
    expect(passes()).toBe(before + 2);
    // On time (lag within CATCH_UP_AFTER_MS): every message reconciles.
    for (const s of [101, 102]) await t.ingest([sample('r0c0', s)]);
    expect(passes()).toBe(before + 4);
    expect((await t.load('r0c0'))?.window.map((p) => p.sessions)).toEqual([1, 2, 3, 4, 101, 102]);
  });

  it('writes one load document per cell for a batch covering several cells, and the sessions gauge', async () => {
    const t = await setup();
    await t.ingest([sample('r0c0', 1), sample('r0c1', 2), sample('r0c1', 3)]);
    expect((await t.load('r0c0'))?.sessions).toBe(1);
    expect((await t.load('r0c1'))?.window).toHaveLength(2);
    expect(t.metrics.value('fleetforge_cell_sessions', { world: 'w', cell: 'r0c1' })).toBe(3);
  });

  it('its pass decides on the loads it just wrote, without reading them back', async () => {
    const clock = new FakeClock(at(100));
    const t = await setup(clock);
    // Both cells Ready, and an agent heard from (a world without one is Degraded and holds scaling).
    const ready = (cell: string) => readyReport(cell, at(100));
    await reconcileWithReports(t.deps, { world: 'w', reason: 'report', correlationId: 'c' }, t.deps.log, [
      ready('r0c0'),
      ready('r0c1'),
    ]);
    const heartbeat = (s: number) =>
      t.store.set(paths.agent('a'), {
        agentId: 'a',
        bootId: 'b',
        startedAt: at(0),
        sentAt: at(s),
        receivedAt: at(s),
        seq: s,
        driver: 'fake',
        cells: 2,
        adopted: true,
      });
    const list = t.store.list.bind(t.store);
    let loadReads = 0;
    t.store.list = (collection, query) => {
      if (collection === paths.loads('w')) loadReads += 1;
      return list(collection, query);
    };
    // Far over any split threshold, sustained past splitSustainSeconds (5 s).
    for (let s = 101; s <= 107; s++) {
      clock.advance(1000);
      await heartbeat(s);
      await t.ingest([sample('r0c0', s, { sessions: 100_000 })]);
    }
    expect(loadReads).toBe(7); // ingest's own read; its passes used what it wrote
    const ops = (await t.store.list(paths.operations('w'))).map((d) => d.data);
    expect(ops).toEqual([expect.objectContaining({ kind: 'split', sources: ['r0c0'] })]);
  });

  it("a world with a warm pool splits once the agent's heartbeat counts a warm cell per child", async () => {
    const clock = new FakeClock(at(100));
    const t = await setup(clock, `${TWO_CELL_WORLD}  warmPool: { size: 4 }\n`);
    await reconcileWithReports(t.deps, { world: 'w', reason: 'report', correlationId: 'c' }, t.deps.log, [
      readyReport('r0c0', at(100)),
      readyReport('r0c1', at(100)),
    ]);
    // Through the handler, as the agent sends it: it keeps 4 warm cells, `warm` of them ready now.
    const heartbeat = (s: number, warm: number) =>
      onAgentReport(
        t.deps,
        AgentHeartbeatSchema.parse({
          kind: 'heartbeat',
          agentId: 'a',
          bootId: 'b',
          startedAt: at(0),
          at: at(s),
          seq: s,
          driver: 'process',
          cells: 2,
          adopted: true,
          worlds: ['w'],
          warm,
          warmTarget: 4,
          correlationId: 'c',
        }),
        t.deps.log,
      );
    const ops = async () => (await t.store.list(paths.operations('w'))).map((d) => d.data);
    // Hot past splitSustainSeconds (5 s), the pool empty: the split waits.
    for (let s = 101; s <= 107; s++) {
      clock.advance(1000);
      await heartbeat(s, 0);
      await t.ingest([sample('r0c0', s, { sessions: 100_000 })]);
    }
    expect(await ops()).toEqual([]);
    const blocked = (await t.store.list('events')).map((d) => d.data as { type: string; reason: string });
    expect(blocked).toContainEqual(expect.objectContaining({ type: 'ScalingBlocked', reason: 'WarmCapacity' }));
    // Two warm cells for the two halves.
    clock.advance(1000);
    await heartbeat(108, 2);
    await t.ingest([sample('r0c0', 108, { sessions: 100_000 })]);
    expect(await ops()).toEqual([expect.objectContaining({ kind: 'split', sources: ['r0c0'] })]);
  });
});
