import { CellDocSchema, type CellDoc, type WorldDoc } from '../world/model';
import { worldFixture } from '../testing/fixtures';
import { planTick, type WorldState } from './tick';

const NOW = new Date('2026-06-01T12:00:00.000Z');
const ago = (s: number) => new Date(NOW.getTime() - s * 1000).toISOString();

const world = (): WorldDoc =>
  worldFixture({
    name: 'w',
    spec: {
      topology: { bounds: { x: 0, y: 0, width: 512, height: 256 }, grid: { cols: 2, rows: 1 } },
      scaling: { splitSustainSeconds: 2, cooldownSeconds: 0, strategy: 'halves' },
    },
    at: ago(600),
  });

/** A Ready, routable cell reporting `sessions` every second for the last 10 s. */
function hotCell(id: string, x: number, sessions: number): CellDoc {
  const window = Array.from({ length: 11 }, (_, i) => ({ at: ago(10 - i), sessions, cpuMillis: 0, memoryMiB: 0 }));
  return CellDocSchema.parse({
    id,
    world: 'w',
    boundary: { x, y: 0, width: 256, height: 256 },
    state: 'Ready',
    incarnation: 1,
    endpoint: `http://127.0.0.1:${9000 + x}`,
    readyAt: ago(600),
    lastReportAt: ago(0),
    routable: true,
    load: { sessions, cpuMillis: 0, memoryMiB: 0, window },
    createdAt: ago(600),
    updatedAt: ago(600),
    correlationId: 'c',
  });
}

let serial = 0;
const opts = { resendAfterMs: 10_000, stepTimeoutMs: 30_000, newId: (p: string) => `${p}-${++serial}` };

describe('planTick: scaling limits', () => {
  const state = (overrides: WorldState['overrides']): WorldState => ({
    world: world(),
    cells: [hotCell('r0c0', 0, 450), hotCell('r0c1', 256, 600)],
    operations: [],
    overrides,
  });

  it('splits every hot cell when no limit applies', () => {
    const plan = planTick(state({}), NOW, opts);
    expect(plan.operations.map((o) => o.sources)).toEqual([['r0c1'], ['r0c0']]);
    expect(plan.events.filter((e) => e.type === 'ScalingBlocked')).toEqual([]);
  });

  it('a live maxConcurrentSplits override splits the hottest cell and blocks, counts and announces the other', () => {
    const plan = planTick(state({ maxConcurrentSplits: 1 }), NOW, opts);
    expect(plan.operations.map((o) => o.sources)).toEqual([['r0c1']]);
    expect(plan.status?.stats.splitRateLimitHits).toBe(1);
    expect(plan.updateCells.find((c) => c.id === 'r0c0')?.blocked).toEqual({
      why: 'ConcurrencyLimit',
      at: NOW.toISOString(),
    });
    expect(plan.events.filter((e) => e.type === 'ScalingBlocked')).toEqual([
      expect.objectContaining({
        cells: ['r0c0'],
        reason: 'ConcurrencyLimit',
        message: expect.stringMatching(/1 splits running, maxConcurrentSplits 1/),
      }),
    ]);
  });
});

describe('planTick: splits wait for warm cells', () => {
  const pooled = (warmPool: { size: number; waitSeconds?: number } | undefined): WorldDoc => {
    const w = world();
    return { ...w, spec: { ...w.spec, ...(warmPool ? { warmPool } : {}) } };
  };
  // Two hot cells, halves: 4 warm cells split both.
  const state = (warmPool: Parameters<typeof pooled>[0], agentWarm?: WorldState['agentWarm']): WorldState => ({
    world: pooled(warmPool),
    cells: [hotCell('r0c0', 0, 450), hotCell('r0c1', 256, 600)],
    operations: [],
    overrides: {},
    ...(agentWarm ? { agentWarm } : {}),
  });
  const split = (s: WorldState) => planTick(s, NOW, opts).operations.map((o) => o.sources[0]);

  // name, the world's pool, the agents' pool, the cells split
  it.each<[string, Parameters<typeof pooled>[0], WorldState['agentWarm'], string[]]>([
    ['3 warm: the hottest splits, the other waits', { size: 4 }, { warm: 3, at: ago(1) }, ['r0c1']],
    ['4 warm: both split', { size: 4 }, { warm: 4, at: ago(1) }, ['r0c1', 'r0c0']],
    ['no agent keeps a pool: no wait', { size: 4 }, undefined, ['r0c1', 'r0c0']],
    ['the world keeps no pool: no wait', undefined, { warm: 0, at: ago(1) }, ['r0c1', 'r0c0']],
    ['waitSeconds 0: no wait', { size: 4, waitSeconds: 0 }, { warm: 0, at: ago(1) }, ['r0c1', 'r0c0']],
  ])('%s', (_name, warmPool, agentWarm, expected) => {
    expect(split(state(warmPool, agentWarm))).toEqual(expected);
  });

  it('counts the cells started since the heartbeat as taken', () => {
    const s = state({ size: 4 }, { warm: 4, at: ago(3) });
    const started = (c: CellDoc, secondsAgo: number) => ({ ...c, startRequestedAt: ago(secondsAgo) });
    // r0c0 started 2 s ago, after the count: 3 left, so only the hottest splits.
    expect(split({ ...s, cells: [started(s.cells[0]!, 2), s.cells[1]!] })).toEqual(['r0c1']);
    // Started before the count: 4 left.
    expect(split({ ...s, cells: [started(s.cells[0]!, 5), s.cells[1]!] })).toEqual(['r0c1', 'r0c0']);
  });

  it('a waiting split is blocked, counted and announced as WarmCapacity', () => {
    const plan = planTick(state({ size: 4 }, { warm: 0, at: ago(1) }), NOW, opts);
    expect(plan.operations).toEqual([]);
    expect(plan.status?.stats.splitRateLimitHits).toBe(2);
    expect(plan.events.filter((e) => e.type === 'ScalingBlocked').map((e) => e.reason)).toEqual([
      'WarmCapacity',
      'WarmCapacity',
    ]);
  });
});
