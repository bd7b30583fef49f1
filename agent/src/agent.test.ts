import pino from 'pino';
import {
  AgentHeartbeatSchema,
  AgentReportBatchSchema,
  AgentReportSchema,
  TOPICS,
  sleep,
  waitUntil,
  type AgentCommand,
  type AgentReport,
} from '@fleetforge/shared';
import { FakeDriver, MemoryBus, RecordingMetricsSink } from '@fleetforge/shared/testing';
import { Agent, type AgentOptions } from './agent';

const W = 'world-a';

function setup(over: Partial<AgentOptions> = {}) {
  const bus = new MemoryBus();
  const driver = new FakeDriver();
  const metrics = new RecordingMetricsSink();
  const agent = new Agent({
    agentId: 'a1',
    bus,
    driver,
    client: driver.client,
    log: pino({ level: 'silent' }),
    metrics,
    relayMs: 60_000,
    heartbeatMs: 60_000,
    probe: { periodMs: 20, timeoutMs: 10, failures: 3 },
    ...over,
  });
  const published = (topic: string) => bus.published.filter((p) => p.topic === topic).map((p) => p.message.data);
  // Reports published together come as one batch message: flattened, in order.
  const reports = (): AgentReport[] =>
    published(TOPICS.agentReports)
      .filter((d) => (d as { kind: string }).kind !== 'heartbeat')
      .flatMap((d) => ((d as { kind: string }).kind === 'reports' ? AgentReportBatchSchema.parse(d).reports : [d]))
      .map((d) => AgentReportSchema.parse(d));
  return { bus, driver, metrics, agent, published, reports };
}

const start = (cell: string, incarnation = 1, generation = 'g1'): AgentCommand => ({
  kind: 'start',
  commandId: `c-${cell}-${incarnation}-${generation}`,
  world: W,
  cell,
  incarnation,
  boundary: { x: 0, y: 0, width: 10, height: 10 },
  capacity: { sessions: 100, cpuMillis: 1000, memoryMiB: 256 },
  epoch: 1,
  neverReady: false,
  generation,
  tenant: null,
  tier: null,
  warmPool: null,
  correlationId: 'corr',
});
const stopCmd = (cell: string, incarnation = 1, generation = 'g1', reason = 'WorldDeleted'): AgentCommand => ({
  kind: 'stop',
  commandId: `s-${cell}-${incarnation}-${generation}`,
  world: W,
  cell,
  incarnation,
  reason,
  generation,
  correlationId: 'c',
});
const handoffCmd = (cell: string, correlationId = 'corr'): AgentCommand => ({
  kind: 'handoff',
  commandId: `h-${cell}`,
  world: W,
  cell,
  incarnation: 1,
  operation: 'op-1',
  epoch: 2,
  targets: [{ cell: 'p', boundary: { x: 0, y: 0, width: 10, height: 10 }, endpoint: 'http://p.invalid/' }],
  correlationId,
});
const startOf = (cell: string) => start(cell) as Extract<AgentCommand, { kind: 'start' }>;
const refs = (cells: Array<[string, number]>) => cells.map(([cell, incarnation]) => ({ cell, incarnation }));
const sync = (cells: Array<[string, number]>, keep: Array<[string, number]> = cells): AgentCommand => ({
  kind: 'sync',
  commandId: 'sync-1',
  world: W,
  cells: refs(cells),
  keep: refs(keep),
  generation: 'g1',
  warmPool: null,
  correlationId: 'corr-sync',
});

const until = (what: string, cond: () => boolean, timeoutMs = 2000) =>
  waitUntil(what, cond, { timeoutMs, intervalMs: 5 });

describe('Agent heartbeat', () => {
  it('heartbeats at start (adopting), then again once adoption is complete, with its boot id', async () => {
    const t = setup();
    await t.agent.start();
    await until('two heartbeats', () => t.published(TOPICS.agentReports).length >= 2);
    const beats = t.published(TOPICS.agentReports).map((d) => AgentHeartbeatSchema.parse(d));
    expect(beats.map((b) => [b.seq, b.adopted])).toEqual([
      [0, false],
      [1, true],
    ]);
    expect(new Set(beats.map((b) => b.bootId)).size).toBe(1);
    expect(beats[0]).toMatchObject({ agentId: 'a1', driver: 'fake' });
    await t.agent.stop();
  });
});

describe('Agent report batching', () => {
  it('publishes reports made together as one message per world, in order', async () => {
    const t = setup({ reportBatchMs: 20 });
    await t.agent.start();
    await Promise.all(['r0c0', 'r0c1', 'r1c0'].map((c) => t.agent.execute(start(c))));
    await until('6 reports', () => t.reports().length === 6);
    const messages = t.published(TOPICS.agentReports).filter((d) => (d as { kind: string }).kind !== 'heartbeat');
    expect(messages).toHaveLength(1);
    const batch = AgentReportBatchSchema.parse(messages[0]);
    expect(batch).toMatchObject({ kind: 'reports', agentId: 'a1', world: W });
    expect(batch.reports.map((r) => `${r.cell}:${r.kind}`)).toEqual([
      'r0c0:started',
      'r0c1:started',
      'r1c0:started',
      'r0c0:ready',
      'r0c1:ready',
      'r1c0:ready',
    ]);
    await t.agent.stop();
  });
});

describe("Agent report hold while a world's starts or hand-offs are under way", () => {
  const messages = (t: ReturnType<typeof setup>) =>
    t.published(TOPICS.agentReports).filter((d) => (d as { kind: string }).kind !== 'heartbeat');
  it.each([
    // hold, one message: a split's children ready 80 ms apart share one message only with a hold
    [500, true],
    [0, false],
  ])('reportHoldMs %i: children ready apart share one message: %s', async (hold, one) => {
    const t = setup({ reportBatchMs: 0, reportHoldMs: hold });
    t.driver.readyDelayMs.set('r0c1', 80);
    await t.agent.start();
    await Promise.all(['r0c0', 'r0c1'].map((c) => t.agent.execute(start(c))));
    await until('4 reports', () => t.reports().length === 4);
    await sleep(20);
    expect(messages(t).length === 1).toBe(one);
    expect(t.reports().map((r) => `${r.cell}:${r.kind}`)).toEqual(
      expect.arrayContaining(['r0c0:ready', 'r0c1:ready', 'r0c0:started', 'r0c1:started']),
    );
    await t.agent.stop();
  });

  it.each([
    // hold, one message: a merge's siblings handing off 80 ms apart share one message only with a hold
    [500, true],
    [0, false],
  ])('reportHoldMs %i: hand-offs finishing apart share one message: %s', async (hold, one) => {
    const t = setup({ reportBatchMs: 0, reportHoldMs: hold });
    t.driver.handoffDelayMs.set('r0c1', 80);
    await t.agent.start();
    await Promise.all(['r0c0', 'r0c1'].map((c) => t.agent.execute(start(c))));
    await until('both ready published', () => t.reports().filter((r) => r.kind === 'ready').length === 2);
    const before = messages(t).length;
    await Promise.all(['r0c0', 'r0c1'].map((c) => t.agent.execute(handoffCmd(c))));
    await until('2 handedOff', () => t.reports().filter((r) => r.kind === 'handedOff').length === 2);
    await sleep(20);
    expect(messages(t).length - before === 1).toBe(one);
    await t.agent.stop();
  });

  it("another operation's hand-off under way holds no report", async () => {
    const t = setup({ reportBatchMs: 0, reportHoldMs: 60_000 });
    t.driver.handoffDelayMs.set('r0c0', 300);
    await t.agent.start();
    await t.agent.execute(start('r0c0'));
    await until('r0c0 ready', () => t.reports().some((r) => r.cell === 'r0c0' && r.kind === 'ready'));
    const handingOff = t.agent.execute(handoffCmd('r0c0', 'corr-op-1'));
    // A split of another operation: its child's reports go out while op-1 still hands off.
    await t.agent.execute({ ...startOf('r0c1'), correlationId: 'corr-op-2' });
    await until('r0c1 ready published', () => t.reports().some((r) => r.cell === 'r0c1' && r.kind === 'ready'));
    expect(t.reports().some((r) => r.kind === 'handedOff')).toBe(false);
    await handingOff;
    await until('handedOff published', () => t.reports().some((r) => r.kind === 'handedOff'));
    await t.agent.stop();
  });

  it('a start that never comes up holds the others only until the hold ends', async () => {
    const t = setup({ reportBatchMs: 0, reportHoldMs: 50 });
    await t.agent.start();
    await t.agent.execute({ ...startOf('r0c1'), neverReady: true });
    await t.agent.execute(start('r0c0'));
    await until('r0c0 ready published', () => t.reports().some((r) => r.cell === 'r0c0' && r.kind === 'ready'));
    expect(t.reports().some((r) => r.cell === 'r0c1' && r.kind === 'ready')).toBe(false);
    await t.agent.stop();
  });

  it('holds nothing but started and ready: an exit goes out at once', async () => {
    const t = setup({ reportBatchMs: 0, reportHoldMs: 60_000 });
    await t.agent.start();
    await t.agent.execute({ ...startOf('r0c1'), neverReady: true });
    await t.agent.execute(start('r0c0'));
    await until('r0c0 ready', () => t.driver.list().some((c) => c.cell === 'r0c0' && c.phase === 'ready'));
    t.driver.crash(W, 'r0c0');
    // The queued ready and the exit go out together, long before the 60 s hold.
    await until('r0c0 exited published', () => t.reports().some((r) => r.cell === 'r0c0' && r.kind === 'exited'));
    expect(t.reports().some((r) => r.cell === 'r0c0' && r.kind === 'ready')).toBe(true);
    await t.agent.stop();
  });
});

describe('Agent warm pool', () => {
  it("keeps the sum of its worlds' warmPool sizes, as starts and syncs say, capped, and heartbeats the count", async () => {
    const t = setup({ warm: { min: 1, max: 10 } });
    await t.agent.start();
    expect(t.driver.warmTarget).toBe(1); // the floor, before any world asks
    const pool = (c: AgentCommand, warmPool: number | null, world = W) => ({ ...c, world, warmPool }) as AgentCommand;
    const steps: Array<[AgentCommand, number]> = [
      [pool(start('r0c0'), 4), 4],
      [pool(sync([]), 3, 'world-b'), 7],
      [pool(sync([['r0c0', 1]]), null), 7], // says nothing: unchanged
      [pool(sync([]), 9, 'world-b'), 10], // capped
      [pool(sync([['r0c0', 1]]), 0), 9],
    ];
    for (const [command, want] of steps) {
      await t.agent.execute(command);
      expect(t.driver.warmTarget).toBe(want);
    }
    expect(t.metrics.value('fleetforge_agent_warm_target', { driver: 'fake' })).toBe(9);
    await t.agent.stop();
    const last = t.published(TOPICS.agentReports).map((d) => AgentHeartbeatSchema.safeParse(d));
    expect(last.filter((p) => p.success).at(-1)?.data?.warm).toBe(1);
  });

  it('heartbeats at once when the warm count changes (splits wait by it), not only every heartbeatMs', async () => {
    const t = setup({ warm: { max: 10 }, warmReportMs: 20 });
    const beats = () =>
      t
        .published(TOPICS.agentReports)
        .filter((d) => (d as { kind: string }).kind === 'heartbeat')
        .map((d) => AgentHeartbeatSchema.parse(d));
    await t.agent.start();
    await until('the heartbeat after adoption', () => beats().some((b) => b.adopted));
    expect(beats().at(-1)).toMatchObject({ warm: 0, warmTarget: 0 });
    await t.agent.execute({ ...start('r0c0'), warmPool: 4 } as AgentCommand);
    await until('a heartbeat with the new count', () => beats().at(-1)?.warm === 4);
    expect(beats().at(-1)).toMatchObject({ warm: 4, warmTarget: 4 });
    // Unchanged: no more heartbeats than the regular ones (heartbeatMs is a minute here).
    const n = beats().length;
    await sleep(100);
    expect(beats()).toHaveLength(n);
    await t.agent.stop();
  });
});

describe('Agent sync: positive evidence only', () => {
  it.each([
    // what the control plane believes serving, what runs, what is reported exited
    ['a cell that runs', [['r0c0', 1]], [['r0c0', 1]], []],
    ['a cell that vanished', [['r0c0', 1]], [], [['r0c0', 1]]],
    ['an older incarnation than the one running (a late sync)', [['r0c0', 1]], [['r0c0', 2]], []],
    ['a newer incarnation than the one running', [['r0c0', 2]], [['r0c0', 1]], [['r0c0', 2]]],
    [
      'two of three gone',
      [
        ['a', 1],
        ['b', 1],
        ['c', 1],
      ],
      [['b', 1]],
      [
        ['a', 1],
        ['c', 1],
      ],
    ],
  ] as Array<[string, Array<[string, number]>, Array<[string, number]>, Array<[string, number]>]>)(
    '%s',
    async (_label, believed, running, exited) => {
      const t = setup();
      await t.agent.start();
      for (const [cell, inc] of running) await t.agent.execute(start(cell, inc));
      await t.agent.execute(sync(believed));
      await sleep(5);
      const gone = t
        .reports()
        .filter((r) => r.kind === 'exited')
        .map((r) => [r.cell, r.incarnation]);
      expect(gone).toEqual(exited);
      for (const r of t.reports().filter((r) => r.kind === 'exited')) expect(r.reason).toMatch(/^NotRunning/);
      await t.agent.stop();
    },
  );

  it('says nothing of an incarnation it stopped itself', async () => {
    const t = setup();
    await t.agent.start();
    await t.agent.execute(start('r0c0'));
    await t.agent.execute(stopCmd('r0c0', 1, 'g1', 'x'));
    await t.agent.execute(sync([['r0c0', 1]]));
    expect(t.reports().filter((r) => r.kind === 'exited')).toEqual([]);
    await t.agent.stop();
  });

  it.each([
    ['the same world: a late start of the stopped incarnation is refused', 'g1', 'stopped'],
    ['the world deleted and applied again: its start runs the cell', 'g2', 'started'],
  ])('%s', async (_name, generation, outcome) => {
    const t = setup();
    await t.agent.start();
    await t.agent.execute(stopCmd('r0c0')); // nothing runs: answered "stopped" and remembered
    await t.agent.execute(start('r0c0', 1, generation));
    expect(t.reports().map((r) => r.kind)).toEqual(['stopped', outcome]);
    expect(t.driver.list().map((r) => r.cell)).toEqual(outcome === 'started' ? ['r0c0'] : []);
    await t.agent.stop();
  });
});

describe('Agent sync: orphans', () => {
  it.each([
    // running, kept by sync 1, kept by sync 2, ms between the syncs, stopped as orphans
    [
      'kept cells stay',
      [
        ['a', 1],
        ['b', 1],
      ],
      [
        ['a', 1],
        ['b', 1],
      ],
      [
        ['a', 1],
        ['b', 1],
      ],
      20_000,
      [],
    ],
    [
      'a cell no sync keeps, two syncs a sweep apart',
      [
        ['a', 1],
        ['b', 1],
      ],
      [['a', 1]],
      [['a', 1]],
      20_000,
      ['b'],
    ],
    [
      'two syncs too close together (a start may have raced the first)',
      [
        ['a', 1],
        ['b', 1],
      ],
      [['a', 1]],
      [['a', 1]],
      5_000,
      [],
    ],
    [
      'the second sync keeps it (the first predated its start)',
      [
        ['a', 1],
        ['b', 1],
      ],
      [['a', 1]],
      [
        ['a', 1],
        ['b', 1],
      ],
      20_000,
      [],
    ],
    ['an older incarnation than the one kept', [['a', 1]], [['a', 2]], [['a', 2]], 20_000, ['a']],
    [
      'a world that is gone (empty keep)',
      [
        ['a', 1],
        ['b', 1],
      ],
      [],
      [],
      20_000,
      ['a', 'b'],
    ],
  ] as Array<[string, Array<[string, number]>, Array<[string, number]>, Array<[string, number]>, number, string[]]>)(
    '%s',
    async (_label, running, keep1, keep2, gapMs, stopped) => {
      let now = 1_000_000;
      const t = setup({ monotonic: () => now, orphanAfterMs: 10_000 });
      await t.agent.start();
      for (const [cell, inc] of running) await t.agent.execute(start(cell, inc));
      await t.agent.execute(sync([], keep1));
      now += gapMs;
      await t.agent.execute(sync([], keep2));
      expect(t.driver.stops.map((s) => s.cell).sort()).toEqual(stopped);
      for (const s of t.driver.stops) expect(s.reason).toMatch(/^Orphan/);
      expect(t.metrics.value('fleetforge_agent_orphans_stopped_total', { driver: 'fake' }) ?? 0).toBe(stopped.length);
      await t.agent.stop();
    },
  );
});

describe('Agent sync: a world deleted and applied again', () => {
  it('a cell of its earlier generation is neither the one serving nor kept: reported missing, then stopped as an orphan', async () => {
    let now = 1_000_000;
    const t = setup({ monotonic: () => now, orphanAfterMs: 10_000 });
    await t.agent.start();
    await t.agent.execute(start('r0c0', 1, 'g0')); // the world before it was deleted (its stop lost)
    await t.agent.execute(sync([['r0c0', 1]])); // the world applied again (generation g1) believes r0c0#1 serving
    expect(
      t
        .reports()
        .filter((r) => r.kind === 'exited')
        .map((r) => [r.cell, r.incarnation, r.reason]),
    ).toEqual([['r0c0', 1, expect.stringMatching(/^NotRunning/)]]);
    now += 20_000;
    await t.agent.execute(sync([['r0c0', 1]]));
    expect(t.driver.stops.map((s) => [s.cell, s.reason])).toEqual([['r0c0', expect.stringMatching(/^Orphan/)]]);
    await t.agent.stop();
  });

  it("a start of the new generation replaces the old one's cell of the same name and incarnation", async () => {
    const t = setup();
    await t.agent.start();
    await t.agent.execute(start('r0c0', 1, 'g0'));
    await until('ready', () => t.driver.list().some((c) => c.phase === 'ready'));
    await t.agent.execute(start('r0c0', 1, 'g1'));
    await until('the new one ready', () => t.driver.list().some((c) => c.generation === 'g1' && c.phase === 'ready'));
    // And a late start of the deleted world changes nothing.
    await t.agent.execute(start('r0c0', 1, 'g0'));
    expect(t.driver.list()).toEqual([expect.objectContaining({ cell: 'r0c0', incarnation: 1, generation: 'g1' })]);
    expect(t.reports().filter((r) => r.kind === 'exited' || r.kind === 'stopped')).toEqual([]);
    await t.agent.stop();
  });

  it("a late stop of the deleted world leaves the new world's cell of that name running", async () => {
    const t = setup();
    await t.agent.start();
    await t.agent.execute(start('r0c0', 1, 'g1'));
    await until('ready', () => t.driver.list().some((c) => c.phase === 'ready'));
    for (const incarnation of [1, 3]) await t.agent.execute(stopCmd('r0c0', incarnation, 'g0'));
    expect(t.driver.stops).toEqual([]);
    expect(t.driver.list()).toEqual([expect.objectContaining({ cell: 'r0c0', generation: 'g1', phase: 'ready' })]);
    await t.agent.stop();
  });
});

describe('Agent health probes', () => {
  it('kills a hung cell after `failures` failed probes in a row, and reports it exited (a crash, not a stop)', async () => {
    const t = setup();
    await t.agent.start();
    await t.agent.execute(start('r0c0'));
    await t.agent.execute(start('r0c1'));
    await until('ready', () => t.driver.list().every((c) => c.phase === 'ready'));
    t.driver.hung.add(`${W}/r0c0`);
    await until('killed', () => t.driver.kills.length === 1);
    expect(t.driver.kills[0]).toMatchObject({ cell: 'r0c0', incarnation: 1 });
    expect(t.driver.kills[0]!.reason).toMatch(/ProbeFailed: \/healthz failed 3 times/);
    await until('reported', () => t.reports().some((r) => r.kind === 'exited'));
    expect(
      t
        .reports()
        .filter((r) => r.kind === 'exited' || r.kind === 'stopped')
        .map((r) => [r.kind, r.cell]),
    ).toEqual([['exited', 'r0c0']]);
    expect(t.driver.list().map((c) => c.cell)).toEqual(['r0c1']);
    expect(t.metrics.value('fleetforge_agent_probe_kills_total', { driver: 'fake' })).toBe(1);
    await t.agent.stop();
  });

  it('starts counting again after the agent itself was stalled (a paused agent kills nothing on resume)', async () => {
    let offset = 0;
    const t = setup({
      monotonic: () => performance.now() + offset,
      probe: { periodMs: 20, timeoutMs: 10, failures: 3 },
    });
    await t.agent.start();
    await t.agent.execute(start('r0c0'));
    await until('ready', () => t.driver.list()[0]?.phase === 'ready');
    t.driver.hung.add(`${W}/r0c0`);
    // Every tick looks as if the agent had been paused for a minute before it: no count survives.
    const stall = setInterval(() => (offset += 60_000), 5);
    await sleep(400);
    clearInterval(stall);
    expect(t.driver.kills).toEqual([]);
    await t.agent.stop();
  });
});

describe('Agent leadership', () => {
  it('hands commands back (nack) while it may not act (lost lease), and runs them once it may', async () => {
    let leader = false;
    const t = setup({ canAct: () => leader });
    await t.agent.start();
    await t.bus.publish(TOPICS.agentCommands, start('r0c0'));
    await t.bus.idle();
    expect(t.driver.starts).toEqual([]);
    // Not acked: every delivery was handed back until the in-memory bus dead-lettered it.
    expect(t.bus.payloads(TOPICS.deadLetter)).toHaveLength(1);
    leader = true;
    await t.bus.publish(TOPICS.agentCommands, start('r0c0'));
    await until('started', () => t.driver.starts.length === 1);
    await t.agent.stop();
  });
});

describe('Agent stop', () => {
  it('leaves the cells running (a restart or rollout must not cost sessions)', async () => {
    const t = setup();
    await t.agent.start();
    await t.agent.execute(start('r0c0'));
    await t.agent.stop();
    expect(t.driver.list().map((c) => c.cell)).toEqual(['r0c0']);
    expect(t.reports().filter((r) => r.kind === 'stopped' || r.kind === 'exited')).toEqual([]);
  });
});
