import pino from 'pino';
import {
  CellDocSchema,
  OperationDocSchema,
  TOPICS,
  containsPoint,
  isLiveCell,
  partitionProblems,
  pollUntil,
  sleep,
  overlaps,
  paths,
  type CellDoc,
  type OperationDoc,
  type Rect,
} from '@fleetforge/shared';
import {
  FakeClock,
  FakeDriver,
  MemoryBus,
  MemoryStateStore,
  RecordingMetricsSink,
  SeqIds,
  type BusChaos,
} from '@fleetforge/shared/testing';
import { ApiRouter, sentinelSweep, storeToken, testDeps } from '@fleetforge/functions';
import { wireFunctions } from '@fleetforge/functions/testing';
import { Agent } from './agent';

/**
 * Split, merge and rollback through the whole control loop (API → reconcile →
 * agent → FakeDriver → reports) on a bus that delays, reorders and duplicates
 * every delivery. Whatever the interleaving, an operation must end Completed or
 * RolledBack with the world partitioned exactly, no session lost or duplicated,
 * and the driver running exactly the live cells.
 *
 * Time: a FakeClock drives every deadline, so a split never rolls back because the
 * machine is slow. The rollback drills move it past the readiness timeout (1 s, and
 * the default 10 s with a start re-send on the way); when an operation makes no
 * progress at all, `finish` lets the step deadline pass and sweeps, as production
 * time would, and counts it: on a bus that loses nothing, no step may need that.
 */

const WORLD = 'world-a';
const BOUNDS: Rect = { x: 0, y: 0, width: 1000, height: 1000 };
/** The 2×2 world; the split/merge drills use a 1 s readiness timeout, the default is 10 s. */
const manifest = (readinessTimeoutSeconds: number | null) => `
apiVersion: fleetforge.dev/v1
kind: World
metadata: { name: ${WORLD} }
spec:
  topology:
    bounds: { x: 0, y: 0, width: 1000, height: 1000 }
    grid: { cols: 2, rows: 2 }
${readinessTimeoutSeconds === null ? '' : `  scaling: { readinessTimeoutSeconds: ${readinessTimeoutSeconds} }\n`}`;
const SEEDS = [1, 2, 3, 4, 5];
/** The parent-crash race needs a particular interleaving: more seeds make it show up reliably. */
const CRASH_SEEDS = [1, 2, 3, 4, 5, 6, 7, 8];
const chaos = (seed: number): BusChaos => ({ seed, duplicate: 0.3, reorder: true, maxDelayMs: 20 });

jest.setTimeout(10_000);

function world(busChaos: BusChaos | undefined) {
  const store = new MemoryStateStore();
  const bus = new MemoryBus({ chaos: busChaos });
  const metrics = new RecordingMetricsSink();
  const clock = new FakeClock();
  // The FakeDriver sends no load samples (heartbeats): silence detection would restart every cell when the clock jumps.
  const deps = testDeps({
    store,
    bus,
    metrics,
    clock,
    log: pino({ level: 'silent' }),
    ids: new SeqIds(),
    staleAfterMs: 0,
  });
  wireFunctions(deps);
  const driver = new FakeDriver();
  const agent = new Agent({
    agentId: 'test',
    bus,
    driver,
    client: driver.client,
    log: deps.log,
    metrics,
    relayMs: 60_000,
  });
  void agent.start();
  const router = new ApiRouter(deps);
  /** A string body is sent as YAML (manifests), anything else as JSON. */
  const call = (method: string, path: string, body?: unknown) =>
    router.handle({
      method,
      path,
      query: {},
      headers: {
        authorization: 'Bearer admin-token',
        'content-type': typeof body === 'string' ? 'application/yaml' : 'application/json',
      },
      body: typeof body === 'string' ? undefined : body,
      rawBody: body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
    });
  return { store, bus, metrics, clock, driver, agent, call, deps };
}
type World = ReturnType<typeof world>;

/** Polls until `cond` holds; fails with `what` after `timeoutMs`. */
async function waitFor(
  what: string,
  cond: () => Promise<boolean>,
  timeoutMs = 3000,
  explain: () => Promise<string> = async () => '',
): Promise<void> {
  if (!(await pollUntil(cond, (ok) => ok, { timeoutMs, intervalMs: 2 })))
    throw new Error(`timed out waiting for ${what}${await explain()}`);
}

/** Until nothing is queued, delayed or in flight, and nothing new was published for a while (driver timers). */
async function settle(w: World): Promise<void> {
  for (let i = 0; i < 100; i++) {
    await w.bus.idle();
    const n = w.bus.published.length;
    await sleep(30);
    await w.bus.idle();
    if (w.bus.published.length === n) return;
  }
  throw new Error('the bus never went quiet');
}

async function cells(w: World): Promise<CellDoc[]> {
  return (await w.store.list(paths.cells(WORLD))).map((d) => CellDocSchema.parse(d.data));
}

async function operation(w: World, id: string): Promise<OperationDoc> {
  const data = await w.store.get(paths.operation(WORLD, id));
  if (!data) throw new Error(`no operation ${id}`);
  return OperationDocSchema.parse(data);
}

async function events(w: World, type: string): Promise<number> {
  return (await w.store.list('events')).filter((d) => d.data.type === type && d.data.world === WORLD).length;
}

/** Routable cells must never overlap, at any moment: sampled while an operation runs. */
async function routableOverlaps(w: World): Promise<string[]> {
  const routable = (await cells(w)).filter((c) => c.routable && isLiveCell(c));
  const found: string[] = [];
  for (let i = 0; i < routable.length; i++) {
    for (let j = i + 1; j < routable.length; j++) {
      if (overlaps(routable[i]!.boundary, routable[j]!.boundary)) {
        found.push(`${routable[i]!.id}#${routable[i]!.incarnation} ∩ ${routable[j]!.id}#${routable[j]!.incarnation}`);
      }
    }
  }
  return found;
}

/** The reconciler's hand-off/drain step timeout (reconcile-world.ts): past it, the step is driven again. */
const STEP_TIMEOUT_MS = 10_000;
/** Real time with no progress at all before the test lets the step timeout pass. */
const STALL_MS = 300;

interface Finished {
  op: OperationDoc;
  /** Overlapping routable cells seen at any sample while the operation ran. */
  overlaps: string[];
  /** How often nothing moved until the step deadline was let pass and the sentinel swept. */
  redrives: number;
}

/**
 * Waits until the operation has settled (Completed or RolledBack) and the bus is
 * quiet, sampling the routing table meanwhile. When nothing at all moves for
 * STALL_MS, it does what production time would: lets the step deadline pass and
 * runs the sentinel sweep (counted in `redrives`; a lossless bus must not need one).
 */
async function finish(w: World, id: string): Promise<Finished> {
  const seen = new Set<string>();
  let redrives = 0;
  let progress = '';
  let since = Date.now();
  await waitFor(
    `operation ${id} to settle`,
    async () => {
      for (const o of await routableOverlaps(w)) seen.add(o);
      const op = await operation(w, id);
      if (op.state === 'Completed' || op.state === 'RolledBack') return true;
      const now = `${op.state} ${w.bus.published.length}`;
      if (now !== progress) {
        progress = now;
        since = Date.now();
      } else if (Date.now() - since > STALL_MS && redrives < 3) {
        redrives++;
        w.clock.advance(STEP_TIMEOUT_MS + 1);
        await sentinelSweep(w.deps, `sentinel-${redrives}`);
        since = Date.now();
      }
      return false;
    },
    4000,
    () => describeWorld(w, id),
  );
  await settle(w);
  return { op: await operation(w, id), overlaps: [...seen], redrives };
}

/** What a timed-out wait saw: the operation, the cell docs and what the driver runs. */
async function describeWorld(w: World, id: string): Promise<string> {
  const op = await operation(w, id);
  const docs = (await cells(w)).map(
    (c) => `${c.id}#${c.incarnation} ${c.state}${c.routable ? ' routable' : ''}${c.holdRouting ? ' held' : ''}`,
  );
  const running = w.driver.list().map((r) => `${r.cell}#${r.incarnation} ${r.phase}`);
  return `: operation ${op.state} handoffs ${JSON.stringify(op.handoffs)} steps ${Object.keys(op.steps).join('>')}; cells ${docs.join(', ')}; driver ${running.join(', ')}`;
}

const key = (cell: string) => `${WORLD}/${cell}`;

/** 40 distinct positions inside `r`. */
function positions(r: Rect, n = 40): Array<{ x: number; y: number }> {
  return Array.from({ length: n }, (_, i) => ({
    x: r.x + 1 + ((i * 37) % (r.width - 2)),
    y: r.y + 1 + ((i * 53 + 11) % (r.height - 2)),
  }));
}
const fmt = (ps: ReadonlyArray<{ x: number; y: number }>) => ps.map((p) => `${p.x},${p.y}`).sort();

/**
 * The invariants after an operation settled: live cells are Ready, routable and
 * partition the world; no two overlap; the driver runs exactly them (same
 * incarnations); every session sits in exactly one running cell that owns its position.
 */
async function expectInvariants(w: World, sessions: ReadonlyArray<{ x: number; y: number }>): Promise<CellDoc[]> {
  const all = await cells(w);
  const live = all.filter(isLiveCell);
  // The cell docs, in the failure message of every check below.
  const docs = all.map((c) => `${c.id}#${c.incarnation} ${c.state}${c.routable ? ' routable' : ''}`).sort();
  expect({ docs, notServing: live.filter((c) => c.state !== 'Ready' || !c.routable).map((c) => c.id) }).toEqual({
    docs,
    notServing: [],
  });
  expect({
    docs,
    partition: partitionProblems(
      BOUNDS,
      live.map((c) => c.boundary),
    ),
  }).toEqual({ docs, partition: [] });
  const overlapping = live.flatMap((a) =>
    live.filter((b) => a.id < b.id && overlaps(a.boundary, b.boundary)).map((b) => `${a.id} ∩ ${b.id}`),
  );
  expect({ docs, overlapping }).toEqual({ docs, overlapping: [] });
  const running = w.driver.list();
  expect({ docs, running: running.map((r) => `${r.cell}#${r.incarnation} ${r.phase}`).sort() }).toEqual({
    docs,
    running: live.map((c) => `${c.id}#${c.incarnation} ready`).sort(),
  });
  const held = running.flatMap((r) => w.driver.sessions.get(key(r.cell)) ?? []);
  expect(fmt(held)).toEqual(fmt(sessions));
  for (const c of live) {
    const outside = (w.driver.sessions.get(key(c.id)) ?? []).filter((p) => !containsPoint(c.boundary, p.x, p.y));
    expect([c.id, outside]).toEqual([c.id, []]);
  }
  return live;
}

/** Worlds still running: stopped after each test, passed or failed, so a failure does not leak into the next. */
const worlds = new Set<World>();
afterEach(async () => {
  for (const w of worlds) await stop(w);
});

async function start(seed: number, readinessTimeoutSeconds: number | null = 1): Promise<World> {
  const w = world(chaos(seed));
  worlds.add(w);
  await storeToken(
    w.store,
    'admin-token',
    { name: 'admin', role: 'admin', tenant: null, createdBy: 'test' },
    new Date(),
  );
  const created = await w.call('POST', '/v1/worlds', manifest(readinessTimeoutSeconds));
  expect(created.status).toBe(201);
  await waitFor('world Ready', async () => {
    const doc = await w.store.get(paths.world(WORLD));
    const all = await cells(w);
    return (
      (doc?.status as { phase?: string } | undefined)?.phase === 'Ready' &&
      all.length === 4 &&
      all.every((c) => c.state === 'Ready')
    );
  });
  await settle(w);
  return w;
}

async function stop(w: World): Promise<void> {
  worlds.delete(w);
  await w.agent.stop();
  await w.bus.idle().catch(() => undefined);
  await w.bus.close();
}

async function split(w: World, cell: string, body: Record<string, unknown> = {}): Promise<string> {
  const res = await w.call('POST', `/v1/worlds/${WORLD}/cells/${cell}:split`, { reason: 'chaos test', ...body });
  expect(res.status).toBe(202);
  return (res.body as { operation: OperationDoc }).operation.id;
}

async function merge(w: World, cellIds: string[]): Promise<string> {
  const res = await w.call('POST', `/v1/worlds/${WORLD}/cells:merge`, { cells: cellIds, reason: 'chaos test' });
  expect(res.status).toBe(202);
  return (res.body as { operation: OperationDoc }).operation.id;
}

const R0C0: Rect = { x: 0, y: 0, width: 500, height: 500 };

/** Crashes a fake cell: the process and the sessions it held are gone. Returns those sessions. */
function crash(w: World, cell: string): Array<{ x: number; y: number }> {
  const held = [...(w.driver.sessions.get(key(cell)) ?? [])];
  w.driver.sessions.set(key(cell), []);
  w.driver.crash(WORLD, cell);
  return held;
}

describe('MemoryBus chaos mode', () => {
  const subs = [
    {
      name: 's',
      topic: TOPICS.worldReconcile,
      delivery: { kind: 'pull' as const, consumer: 'operator' as const },
      ackDeadlineSeconds: 10,
      maxDeliveryAttempts: 5,
      ordered: false,
    },
  ];

  async function deliveries(c: BusChaos | undefined, n = 50): Promise<number[]> {
    const bus = new MemoryBus(subs, { chaos: c });
    const got: number[] = [];
    bus.subscribe('s', async (m) => void got.push((m.data as { n: number }).n));
    for (let i = 0; i < n; i++) await bus.publish(TOPICS.worldReconcile, { n: i });
    await bus.idle();
    await bus.close();
    return got;
  }

  it('changes nothing without chaos: every message once, in order', async () => {
    expect(await deliveries(undefined)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('duplicates (the same copies for the same seed) and reorders, and idle() waits for delayed copies', async () => {
    const a = await deliveries({ seed: 7, duplicate: 0.3, reorder: true, maxDelayMs: 20 });
    expect(new Set(a).size).toBe(50);
    expect(a.length).toBeGreaterThan(50);
    expect(a).not.toEqual([...a].sort((x, y) => x - y));
    const b = await deliveries({ seed: 7, duplicate: 0.3, reorder: true, maxDelayMs: 20 });
    expect(b.length).toBe(a.length);
  });

  it('keeps the order with reorder: false (duplicates follow their original)', async () => {
    const got = await deliveries({ seed: 3, duplicate: 0.3, reorder: false, maxDelayMs: 10 });
    expect(got).toEqual([...got].sort((x, y) => x - y));
    expect(new Set(got).size).toBe(50);
  });

  it('still redelivers a failing message and dead-letters it after maxDeliveryAttempts', async () => {
    const bus = new MemoryBus(subs, { chaos: { seed: 1, duplicate: 0.5, reorder: true, maxDelayMs: 5 } });
    let attempts = 0;
    bus.subscribe('s', async () => {
      attempts++;
      throw new Error('always');
    });
    await bus.publish(TOPICS.worldReconcile, { world: 'w' });
    await bus.idle();
    // maxDeliveryAttempts of the original, plus whatever duplicates were delivered (and dropped) on the way.
    expect(attempts).toBeGreaterThanOrEqual(5);
    expect(bus.payloads(TOPICS.deadLetter)).toEqual([{ world: 'w' }]);
    await bus.close();
  });
});

describe.each(SEEDS)('split, merge and rollback on a chaotic bus (seed %i)', (seed) => {
  it('splits and merges back without losing, duplicating or orphaning anything', async () => {
    const w = await start(seed);
    const sessions = positions(R0C0);
    w.driver.sessions.set(key('r0c0'), [...sessions]);

    const splitOp = await split(w, 'r0c0');
    const s = await finish(w, splitOp);
    expect(s.op).toMatchObject({ state: 'Completed', sessionsMoved: 40, error: null });
    expect([s.overlaps, s.redrives]).toEqual([[], 0]);
    const afterSplit = await expectInvariants(w, sessions);
    const children = afterSplit
      .filter((c) => c.parent === 'r0c0')
      .map((c) => c.id)
      .sort();
    expect(children).toEqual(['r0c0.0', 'r0c0.1']);
    expect(await events(w, 'CellSplit')).toBe(1);

    const mergeOp = await merge(w, children);
    const m = await finish(w, mergeOp);
    expect(m.op).toMatchObject({ state: 'Completed', sessionsMoved: 40, error: null });
    expect([m.overlaps, m.redrives]).toEqual([[], 0]);
    const afterMerge = await expectInvariants(w, sessions);
    expect(afterMerge.find((c) => c.id === 'r0c0')).toMatchObject({ boundary: R0C0, incarnation: 2 });
    expect(await events(w, 'CellMerge')).toBe(1);
    expect(await events(w, 'CellSplit')).toBe(1);

    // Rollback drill: the children never become ready; the deadline passes; the sentinel looks again.
    const drill = await split(w, 'r0c0', { testChildrenNeverReady: true });
    await waitFor('the drill children to run', async () => {
      const cellsRunning = w.driver.list().map((r) => r.cell);
      return cellsRunning.includes('r0c0.0') && cellsRunning.includes('r0c0.1');
    });
    await settle(w);
    expect((await operation(w, drill)).state).toBe('ChildrenStarting');
    w.clock.advance(1500);
    await sentinelSweep(w.deps, 'sentinel-test');
    const r = await finish(w, drill);
    expect(r.op).toMatchObject({ state: 'RolledBack' });
    expect(r.op.error).toContain('not ready by the deadline');
    expect([r.overlaps, r.redrives]).toEqual([[], 0]);
    const afterDrill = await expectInvariants(w, sessions);
    expect(afterDrill.find((c) => c.id === 'r0c0')).toMatchObject({ state: 'Ready', routable: true, incarnation: 2 });
    expect((await cells(w)).filter((c) => c.parent === 'r0c0').map((c) => c.state)).toEqual([
      'Terminated',
      'Terminated',
    ]);
    expect(await events(w, 'SplitRollback')).toBe(1);
  });

  it('rolls a drill back at the default readiness timeout, when the rollback pass also re-sends the start', async () => {
    // readinessTimeoutSeconds 10 (default) > resendAfterMs 5 s: the children's start is re-sent at ~5 s, and is
    // due again in the very pass that finds the deadline passed and stops them.
    const w = await start(seed, null);
    const sessions = positions(R0C0);
    w.driver.sessions.set(key('r0c0'), [...sessions]);
    const drill = await split(w, 'r0c0', { testChildrenNeverReady: true });
    await waitFor('the drill children to run', async () => {
      const cellsRunning = w.driver.list().map((r) => r.cell);
      return cellsRunning.includes('r0c0.0') && cellsRunning.includes('r0c0.1');
    });
    await settle(w);
    w.clock.advance(5500);
    await sentinelSweep(w.deps, 'sentinel-resend');
    await settle(w);
    expect((await operation(w, drill)).state).toBe('ChildrenStarting');
    w.clock.advance(5500);
    await sentinelSweep(w.deps, 'sentinel-deadline');
    const r = await finish(w, drill);
    expect(r.op.state).toBe('RolledBack');
    expect([r.overlaps, r.redrives]).toEqual([[], 0]);
    const live = await expectInvariants(w, sessions);
    expect(live.find((c) => c.id === 'r0c0')).toMatchObject({ state: 'Ready', routable: true, incarnation: 1 });
    expect(await events(w, 'SplitRollback')).toBe(1);
  });
});

describe.each(SEEDS)('a child crashing during a split on a chaotic bus (seed %i)', (seed) => {
  it('completes a split whose child crashes while the children start', async () => {
    const w = await start(seed);
    const sessions = positions(R0C0);
    w.driver.sessions.set(key('r0c0'), [...sessions]);
    let lost: Array<{ x: number; y: number }> | undefined;
    let crashing = false;
    w.driver.onEvent((e) => {
      // Started, not yet ready (that comes a timer later): the operation is in ChildrenStarting.
      if (e.kind === 'started' && e.cell === 'r0c0.0' && !crashing) {
        crashing = true;
        queueMicrotask(() => (lost = crash(w, 'r0c0.0')));
      }
    });
    const id = await split(w, 'r0c0');
    const s = await finish(w, id);
    expect(lost).toEqual([]); // a child holds no session before the hand-off
    expect({ state: s.op.state, overlaps: s.overlaps, redrives: s.redrives }).toEqual({
      state: 'Completed',
      overlaps: [],
      redrives: 0,
    });
    const live = await expectInvariants(w, sessions);
    expect(live.find((c) => c.id === 'r0c0.0')?.incarnation).toBe(2);
    expect(await events(w, 'CellSplit')).toBe(1);
  });
});

describe.each(CRASH_SEEDS)('the parent crashing during a split on a chaotic bus (seed %i)', (seed) => {
  it.each([
    ['before it hands off (its sessions are lost)', 'before'],
    ['right after it handed off (nothing lost)', 'after'],
  ] as const)('settles a split whose parent crashes after HandingOff, %s', async (_name, when) => {
    const w = await start(seed);
    const sessions = positions(R0C0);
    w.driver.sessions.set(key('r0c0'), [...sessions]);
    // The hand-off command is only sent in HandingOff: crash the parent around its first execution.
    const handoff = w.driver.client.handoff.bind(w.driver.client);
    let lost: Array<{ x: number; y: number }> | undefined;
    w.driver.client.handoff = async (endpoint, request) => {
      const cell = endpoint.slice(endpoint.lastIndexOf('/') + 1);
      if (lost === undefined && cell === 'r0c0' && when === 'before') lost = crash(w, cell);
      const result = await handoff(endpoint, request);
      if (lost === undefined && cell === 'r0c0' && when === 'after') lost = crash(w, cell);
      return result;
    };
    const id = await split(w, 'r0c0');
    const s = await finish(w, id);
    expect(lost?.length).toBe(when === 'before' ? 40 : 0);
    expect(['Completed', 'RolledBack']).toContain(s.op.state);
    // The crash report must be enough to move on: no waiting for the step deadline, no moment with two owners.
    expect({ overlaps: s.overlaps, redrives: s.redrives }).toEqual({ overlaps: [], redrives: 0 });
    // Sessions the crashed parent still held are gone with it; every other one survives exactly once.
    const gone = new Set(fmt(lost!));
    await expectInvariants(
      w,
      sessions.filter((p) => !gone.has(`${p.x},${p.y}`)),
    );
    expect(await events(w, s.op.state === 'Completed' ? 'CellSplit' : 'SplitRollback')).toBe(1);
  });
});
