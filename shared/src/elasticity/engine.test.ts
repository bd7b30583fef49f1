import fc from 'fast-check';
import type { Scaling, ScalingDecision, ScalingInput } from './scaling';
import { checkMerge, checkSplit, decideScaling, rectsConnected, splitChildren } from './engine';
import { formatRect, isPartition, splitHalves, type Rect } from '../world/geometry';
import { foldHistory, type LoadHistory } from '../world/load-history';
import { CellDocSchema, emptyLoad, isLiveCell, type CellDoc, type CellState, type LoadSample } from '../world/model';
import { OperationDocSchema, type OperationDoc } from './operations';
import { CapacitySchema, ScalingSchema } from '../world/world';

const NOW = new Date('2025-06-01T12:00:00.000Z');
const T = NOW.getTime();
const at = (ms: number) => new Date(ms).toISOString();
const ago = (seconds: number) => at(T - seconds * 1000);
const LONG_AGO = ago(3600);
const CAPACITY = CapacitySchema.parse({});

const rect = (x: number, y: number, width: number, height: number): Rect => ({ x, y, width, height });
const scaling = (over: Partial<Scaling> = {}): Scaling => ScalingSchema.parse(over);

/** One sample a second over the last `seconds` (inclusive of now), ending `endAgo` seconds before now. */
function samples(sessions: number, seconds = 10, { cpuMillis = 0, endAgo = 0 } = {}): LoadSample[] {
  return Array.from({ length: seconds + 1 }, (_, i) => ({
    at: ago(endAgo + seconds - i),
    sessions,
    cpuMillis,
    memoryMiB: 0,
  }));
}

interface CellOver {
  boundary?: Rect;
  parent?: string | null;
  lineage?: string[];
  state?: CellState;
  readyAt?: string | null;
  createdAt?: string;
  window?: LoadSample[];
  hist?: { x: number[]; y: number[] } | null;
  history?: LoadHistory | null;
}

/**
 * The history of samples that left the window: one a second from `fromAgo` to `toAgo`
 * seconds ago, with `sessions` (a number, or by seconds-ago) and `cpuMillis`.
 */
function folded(fromAgo: number, toAgo: number, sessions: number | ((ago: number) => number), cpuMillis = 0) {
  const leaving = Array.from({ length: fromAgo - toAgo + 1 }, (_, i) => fromAgo - i).map((s) => ({
    at: T - s * 1000,
    sessions: typeof sessions === 'number' ? sessions : sessions(s),
    cpuMillis,
  }));
  return foldHistory(null, leaving);
}

function cell(id: string, over: CellOver = {}): CellDoc {
  const window = over.window ?? [];
  return CellDocSchema.parse({
    id,
    world: 'w',
    boundary: over.boundary ?? rect(0, 0, 256, 128),
    parent: over.parent ?? null,
    lineage: over.lineage ?? (over.parent ? [over.parent] : []),
    state: over.state ?? 'Ready',
    incarnation: 1,
    readyAt: over.readyAt === undefined ? LONG_AGO : over.readyAt,
    load: {
      sessions: window.at(-1)?.sessions ?? 0,
      cpuMillis: 0,
      memoryMiB: 0,
      window,
      hist: over.hist ?? null,
      history: over.history ?? null,
    },
    createdAt: over.createdAt ?? LONG_AGO,
    updatedAt: LONG_AGO,
    correlationId: 'c',
  });
}

interface OpOver {
  kind?: 'split' | 'merge';
  state?: OperationDoc['state'];
  createdAt?: string;
  completedAt?: string | null;
  targets?: string[];
}

function op(id: string, sources: string[], over: OpOver = {}): OperationDoc {
  const state = over.state ?? 'Completed';
  const createdAt = over.createdAt ?? ago(600);
  return OperationDocSchema.parse({
    id,
    world: 'w',
    kind: over.kind ?? 'split',
    state,
    cause: 'Threshold',
    reason: '',
    sources,
    targets: (over.targets ?? [`${sources[0]}.x`]).map((t) => ({ id: t, boundary: rect(0, 0, 1, 1), incarnation: 1 })),
    readyDeadline: createdAt,
    principal: 'test',
    correlationId: 'c',
    createdAt,
    updatedAt: createdAt,
    completedAt: over.completedAt !== undefined ? over.completedAt : state === 'Completed' ? createdAt : null,
  });
}

function input(cells: CellDoc[], operations: OperationDoc[] = [], over: Partial<Scaling> = {}): ScalingInput {
  return { scaling: scaling(over), capacity: CAPACITY, cells, operations, now: NOW };
}

/** `split a`, `merge A+B`, `blocked split a Cooldown`. */
const summary = (ds: ScalingDecision[]) =>
  ds.map((d) => {
    if (d.kind === 'split') return `split ${d.cell}`;
    return d.kind === 'merge' ? `merge ${d.cells.join('+')}` : `blocked ${d.action} ${d.cells.join('+')} ${d.why}`;
  });
const rects = (rs: Rect[] | undefined) => rs?.map(formatRect).join(' | ');

describe('splitChildren', () => {
  const H: Partial<Scaling> = { strategy: 'halves' };
  const Q: Partial<Scaling> = { strategy: 'quads' };
  const wide = rect(0, 0, 256, 128);
  const HALVES = '0,0 128x128 | 128,0 128x128';
  it.each<[string, Partial<Scaling>, Rect, CellOver['hist'], string | undefined]>([
    ['halves: wide → across x', H, wide, null, HALVES],
    ['halves: tall → across y', H, rect(10, 20, 64, 128), null, '10,20 64x64 | 10,84 64x64'],
    ['halves: odd side, smaller first', { ...H, minCellSize: 1 }, rect(0, 0, 5, 1), null, '0,0 2x1 | 2,0 3x1'],
    ['halves: exactly 2 × minCellSize', H, rect(0, 0, 32, 20), null, '0,0 16x20 | 16,0 16x20'],
    ['halves: below 2 × minCellSize', H, rect(0, 0, 31, 31), null, undefined],
    ['halves: uncut side below minCellSize', H, rect(0, 0, 64, 8), null, undefined],
    ['quads', Q, rect(0, 0, 256, 256), null, '0,0 128x128 | 128,0 128x128 | 0,128 128x128 | 128,128 128x128'],
    ['quads: falls back to halves', Q, rect(0, 0, 64, 20), null, '0,0 32x20 | 32,0 32x20'],
    ['quads: neither fits', Q, rect(0, 0, 20, 20), null, undefined],
    ['load-aware: no histogram → halves', {}, wide, null, HALVES],
    ['load-aware: empty histogram → halves', {}, wide, { x: [0, 0, 0, 0], y: [0, 0] }, HALVES],
    // x balances at 32, y at 64: a tie on imbalance goes to the longer axis.
    [
      'load-aware: hotspot in the left quarter',
      {},
      wide,
      { x: [50, 50, 0, 0, 0, 0, 0, 0], y: [25, 25, 25, 25] },
      '0,0 32x128 | 32,0 224x128',
    ],
    [
      'load-aware: the better-balancing axis wins',
      {},
      wide,
      { x: [100, 0, 0, 0], y: [25, 25, 25, 25] },
      '0,0 256x64 | 0,64 256x64',
    ],
    [
      'load-aware: minCellSize keeps the cut off the edge',
      { minCellSize: 64 },
      wide,
      { x: [100, 0, 0, 0, 0, 0, 0, 0], y: [] },
      HALVES,
    ],
    [
      'load-aware: edges at floor(k·L/n), tie → nearer the middle',
      {},
      rect(0, 0, 100, 50),
      { x: [0, 10, 0], y: [] },
      '0,0 66x50 | 66,0 34x50',
    ],
    [
      'load-aware: no bin edge fits → halves',
      {},
      rect(0, 0, 36, 20),
      { x: [5, 5, 5], y: [] },
      '0,0 18x20 | 18,0 18x20',
    ],
    ['load-aware: too small', {}, rect(0, 0, 20, 20), { x: [1, 1], y: [1, 1] }, undefined],
  ])('%s', (_name, over, boundary, hist, expected) => {
    expect(rects(splitChildren(cell('a', { boundary, hist }), scaling(over)))).toEqual(expected);
  });
});

/** What a manual request gets instead: it bypasses cool-downs and rate limits only. */
const manualResult = (why: string) =>
  ['Cooldown', 'RateLimitGlobal', 'RateLimitCell', 'ConcurrencyLimit'].includes(why) ? 'ok' : why;

describe('checkSplit', () => {
  const a = (over: CellOver = {}) => cell('a', { lineage: ['root', 'p'], parent: 'p', ...over });
  const splitsOfOthers = (n: number, secondsAgo = 10) =>
    Array.from({ length: n }, (_, i) => op(`s${i}`, [`z${i}`], { createdAt: ago(secondsAgo + i) }));
  const rolledBack = (completedAgo: number) =>
    op('r', ['a'], { state: 'RolledBack', createdAt: ago(120), completedAt: ago(completedAgo) });
  const dead = [cell('b', { state: 'Terminated' }), cell('c', { state: 'Failed' })];
  // name, cells (the first is split), operations, scaling, expected, reason
  it.each<[string, CellDoc[], OperationDoc[], Partial<Scaling>, string, RegExp?]>([
    ['ok', [a()], [], {}, 'ok'],
    [
      'Busy: in an active merge',
      [a()],
      [op('m', ['a', 'b'], { kind: 'merge', state: 'HandingOff' })],
      {},
      'Busy',
      /merge operation m/,
    ],
    [
      'Busy: target of an active split',
      [a()],
      [op('s', ['p'], { state: 'ChildrenStarting', targets: ['a'] })],
      {},
      'Busy',
    ],
    ['not Busy: finished operation', [a()], [op('m', ['a', 'b'], { kind: 'merge' })], {}, 'ok'],
    [
      'Busy: a child id from an earlier merge is still stopping',
      [a(), cell('a.1', { state: 'Draining', parent: 'a' })],
      [],
      {},
      'Busy',
      /a\.1 \(incarnation \d+\) of an earlier operation is still stopping/,
    ],
    ['not Busy: that child id has stopped', [a(), cell('a.1', { state: 'Terminated', parent: 'a' })], [], {}, 'ok'],
    ['NotReady', [a({ state: 'Pending' })], [], {}, 'NotReady', /Pending/],
    ['MinSize', [a({ boundary: rect(0, 0, 20, 20) })], [], {}, 'MinSize', /20x20.*minCellSize 16/],
    ['MaxCells', [a(), cell('b')], [], { maxCells: 2 }, 'MaxCells', /2 live.*make 3, maxCells 2/],
    ['MaxCells ignores dead cells', [a(), ...dead], [], { maxCells: 2 }, 'ok'],
    [
      'Cooldown: created by a split 12s ago',
      [a()],
      [op('p', ['p'], { completedAt: ago(12), targets: ['a'] })],
      {},
      'Cooldown',
      /created 12s ago, cooldownSeconds 30/,
    ],
    ['no cool-down for a cell no operation made, however new', [a({ readyAt: ago(1) })], [], {}, 'ok'],
    ['no Cooldown: ready 30s ago', [a({ readyAt: ago(30) })], [], {}, 'ok'],
    ['Cooldown: own split rolled back 10s ago', [a()], [rolledBack(10)], {}, 'Cooldown', /rolled back 10s ago/],
    ['no Cooldown: rolled back 40s ago', [a()], [rolledBack(40)], {}, 'ok'],
    [
      'RateLimitGlobal',
      [a()],
      splitsOfOthers(6),
      {},
      'RateLimitGlobal',
      /6 splits in the last 60s, splitsPerMinuteGlobal 6/,
    ],
    [
      'RateLimitGlobal: any state',
      [a()],
      splitsOfOthers(2).map((o) => ({ ...o, state: 'RolledBack' as const })),
      { splitsPerMinuteGlobal: 2 },
      'RateLimitGlobal',
    ],
    ['no RateLimitGlobal: 60s ago is outside', [a()], splitsOfOthers(6, 60), {}, 'ok'],
    [
      'no RateLimitGlobal: merges do not count',
      [a()],
      [op('m', ['x', 'y'], { kind: 'merge', createdAt: ago(5) })],
      { splitsPerMinuteGlobal: 1 },
      'ok',
    ],
    [
      'RateLimitCell: parent split 30s ago',
      [a()],
      [op('s', ['p'], { createdAt: ago(30) })],
      {},
      'RateLimitCell',
      /splitsPerMinutePerCell 1/,
    ],
    [
      'RateLimitCell: 2 per minute',
      [a()],
      [op('s1', ['root'], { createdAt: ago(50) }), op('s2', ['p'], { createdAt: ago(20) })],
      { splitsPerMinutePerCell: 2 },
      'RateLimitCell',
    ],
    ['no RateLimitCell: a cousin split', [a()], [op('s', ['q'], { createdAt: ago(30) })], {}, 'ok'],
    [
      'ConcurrencyLimit: 4 splits running',
      [a()],
      splitsOfOthers(4).map((o) => ({ ...o, state: 'ChildrenStarting' as const })),
      {},
      'ConcurrencyLimit',
      /4 splits running, maxConcurrentSplits 4/,
    ],
    [
      'no ConcurrencyLimit: finished splits do not count',
      [a()],
      splitsOfOthers(4).map((o, i) => ({ ...o, state: i % 2 ? ('RolledBack' as const) : ('Completed' as const) })),
      { maxConcurrentSplits: 1 },
      'ok',
    ],
    [
      'no ConcurrencyLimit: running merges do not count',
      [a()],
      [op('m', ['x', 'y'], { kind: 'merge', state: 'HandingOff' })],
      { maxConcurrentSplits: 1 },
      'ok',
    ],
  ])('%s', (...row) => {
    // A rest parameter: jest would pass `done` to a declared but missing last column.
    const [, cells, ops, over, expected, reason] = row;
    const inp = input(cells, ops, over);
    for (const [manual, want] of [
      [false, expected],
      [true, manualResult(expected)],
    ] as const) {
      const res = checkSplit(cells[0]!, inp, { manual });
      expect(res.ok ? 'ok' : res.why).toBe(want);
      if (!res.ok && reason) expect(res.reason).toMatch(reason);
      if (res.ok) expect(isPartition(cells[0]!.boundary, res.children)).toBe(true);
    }
  });
});

describe('checkMerge', () => {
  const P = cell('P', { state: 'Terminated', boundary: rect(0, 0, 256, 128) });
  const A = (over: CellOver = {}) => cell('A', { parent: 'P', boundary: rect(0, 0, 128, 128), ...over });
  const B = (over: CellOver = {}) => cell('B', { parent: 'P', boundary: rect(128, 0, 128, 128), ...over });
  const quads = (...states: CellState[]) => [
    cell('Q', { state: 'Terminated', boundary: rect(0, 0, 256, 256) }),
    ...states.map((state, i) =>
      cell(`Q${i}`, { parent: 'Q', state, boundary: rect((i % 2) * 128, Math.floor(i / 2) * 128, 128, 128) }),
    ),
  ];
  const R = 'Ready';
  // name, ids, cells, operations, expected, reason
  it.each<[string, string, CellDoc[], OperationDoc[], string, RegExp?]>([
    ['ok', 'A B', [P, A(), B()], [], 'ok'],
    ['ok: four quarters', 'Q0 Q1 Q2 Q3', quads(R, R, R, R), [], 'ok'],
    ['NotSiblings: one cell', 'A', [P, A(), B()], [], 'NotSiblings', /at least 2/],
    ['NotSiblings: listed twice', 'A A', [P, A(), B()], [], 'NotSiblings', /more than once/],
    ['NotSiblings: unknown cell', 'A Z', [P, A(), B()], [], 'NotSiblings', /unknown cells: Z/],
    ['NotSiblings: no parent', 'A B', [P, A({ parent: null }), B()], [], 'NotSiblings'],
    ['NotSiblings: different parents', 'A B', [P, A(), B({ parent: 'X' })], [], 'NotSiblings'],
    ['NotSiblings: parent doc missing', 'A B', [A(), B()], [], 'NotSiblings', /parent P/],
    ['NotSiblings: partial set', 'Q0 Q1 Q2', quads(R, R, R, R), [], 'NotSiblings', /missing Q3/],
    ['NotSiblings: a dead sibling listed', 'Q0 Q1 Q2 Q3', quads(R, R, R, 'Failed'), [], 'NotSiblings', /Q3 \(Failed\)/],
    [
      'NotParentRegion: smaller than the parent',
      'A B',
      [P, A(), B({ boundary: rect(128, 0, 64, 128) })],
      [],
      'NotParentRegion',
      /192x128/,
    ],
    ['NotParentRegion: live diagonal quarters', 'Q0 Q3', quads(R, 'Failed', 'Failed', R), [], 'NotParentRegion'],
    ['Busy', 'A B', [P, A(), B()], [op('s', ['B'], { state: 'Planned' })], 'Busy'],
    [
      'Busy: the parent id of the split is still stopping',
      'A B',
      [{ ...P, state: 'Draining' }, A(), B()],
      [],
      'Busy',
      /P \(incarnation \d+\) of an earlier operation is still stopping/,
    ],
    ['NotReady', 'A B', [P, A(), B({ state: 'Draining' })], [], 'NotReady', /B \(Draining\)/],
    [
      'Busy before NotReady',
      'A B',
      [P, A(), B({ state: 'Splitting' })],
      [op('s', ['B'], { state: 'Draining' })],
      'Busy',
    ],
    [
      'Cooldown',
      'A B',
      [P, A(), B()],
      [op('s', ['P'], { completedAt: ago(5), targets: ['A', 'B'] })],
      'Cooldown',
      /A created 5s ago/,
    ],
  ])('%s', (...row) => {
    const [, ids, cells, ops, expected, reason] = row;
    const inp = input(cells, ops);
    for (const [manual, want] of [
      [false, expected],
      [true, manualResult(expected)],
    ] as const) {
      const res = checkMerge(ids.split(' '), inp, { manual });
      expect(res.ok ? 'ok' : res.why).toBe(want);
      if (!res.ok && reason) expect(res.reason).toMatch(reason);
      if (res.ok) expect(res.boundary).toEqual(cells.find((c) => c.id === res.parent)!.boundary);
    }
  });

  // A tiling of the parent region is always edge-connected, so NotAdjacent cannot follow a
  // passed NotParentRegion check; the connectivity test behind it is covered here.
  it.each<[string, Rect[], boolean]>([
    ['side by side', [rect(0, 0, 1, 1), rect(1, 0, 1, 1)], true],
    ['corner only', [rect(0, 0, 1, 1), rect(1, 1, 1, 1)], false],
    ['chain through a third', [rect(0, 0, 1, 1), rect(1, 1, 1, 1), rect(0, 1, 1, 1)], true],
    ['apart', [rect(0, 0, 1, 1), rect(5, 0, 1, 1)], false],
  ])('rectsConnected: %s', (_name, rs, expected) => {
    expect(rectsConnected(rs)).toBe(expected);
  });
});

describe('decideScaling: splits', () => {
  const hot = (id: string, over: CellOver = {}) => cell(id, { window: samples(512), ...over });
  const hotWith = (window: LoadSample[]) => [hot('a', { window })];
  it.each<[string, CellDoc[], OperationDoc[], Partial<Scaling>, string[]]>([
    ['hot for 10s → split', [hot('a')], [], {}, ['split a']],
    ['hot by CPU', hotWith(samples(10, 10, { cpuMillis: 900 })), [], {}, ['split a']],
    ['window exactly covered (samples from now−5s)', hotWith(samples(512, 5)), [], {}, ['split a']],
    ['hot for 3s, no older samples → nothing', hotWith(samples(512, 3)), [], {}, []],
    [
      'hot for 3s after normal load → nothing',
      hotWith([...samples(100, 10, { endAgo: 4 }), ...samples(512, 3)]),
      [],
      {},
      [],
    ],
    ['stale: newest sample 11s old', hotWith(samples(512, 10, { endAgo: 11 })), [], {}, []],
    [
      'late samples: newest 3s old, hot for the sustain window before it → split',
      hotWith(samples(512, 10, { endAgo: 3 })),
      [],
      { splitSustainSeconds: 1 },
      ['split a'],
    ],
    ['at the threshold is not hot', hotWith(samples(400)), [], {}, []],
    [
      'sustain 0: the newest sample',
      hotWith([...samples(0, 5, { endAgo: 1 }), ...samples(512, 0)]),
      [],
      { splitSustainSeconds: 0 },
      ['split a'],
    ],
    ['not Ready → nothing', [hot('a', { state: 'Pending' })], [], {}, []],
    ['Busy → nothing', [hot('a')], [op('m', ['a', 'b'], { kind: 'merge', state: 'Planned' })], {}, []],
    [
      'cool-down → blocked',
      [hot('a')],
      [op('p', ['p'], { completedAt: ago(10), targets: ['a'] })],
      {},
      ['blocked split a Cooldown'],
    ],
    ['MinSize → blocked', [hot('a', { boundary: rect(0, 0, 20, 20) })], [], {}, ['blocked split a MinSize']],
    [
      'global rate limit',
      [hot('a')],
      [op('s', ['z'], { createdAt: ago(20) })],
      { splitsPerMinuteGlobal: 1 },
      ['blocked split a RateLimitGlobal'],
    ],
    [
      'global rate limit within one call',
      [hot('c'), hot('a'), hot('b')],
      [],
      { splitsPerMinuteGlobal: 2 },
      ['split a', 'split b', 'blocked split c RateLimitGlobal'],
    ],
    [
      'per-cell rate limit via lineage',
      [hot('a.0', { parent: 'a', lineage: ['a'] })],
      [op('s', ['a'], { createdAt: ago(45) })],
      { cooldownSeconds: 0 },
      ['blocked split a.0 RateLimitCell'],
    ],
    [
      'concurrency limit within one call: hottest first',
      [hot('a'), hot('b', { window: samples(900) }), hot('c', { window: samples(700) })],
      [op('s', ['z'], { state: 'HandingOff', createdAt: ago(20) })],
      { maxConcurrentSplits: 3 },
      ['split b', 'split c', 'blocked split a ConcurrencyLimit'],
    ],
    [
      'max cells within one call',
      [hot('a'), hot('b'), hot('c')],
      [],
      { maxCells: 4 },
      ['split a', 'blocked split b MaxCells', 'blocked split c MaxCells'],
    ],
    // Sustains longer than the kept window: the older part is judged on the folded history.
    [
      'hot for 2 min: 10 s kept, the rest folded → split',
      [hot('a', { history: folded(130, 11, 512) })],
      [],
      { splitSustainSeconds: 120 },
      ['split a'],
    ],
    [
      'hot for 2 min but a dip a minute ago, in the folded part → nothing',
      [hot('a', { history: folded(130, 11, (s) => (s === 60 ? 100 : 512)) })],
      [],
      { splitSustainSeconds: 120 },
      [],
    ],
    [
      'hot by CPU over the folded part → split',
      [hot('a', { window: samples(10, 10, { cpuMillis: 900 }), history: folded(130, 11, 10, 900) })],
      [],
      { splitSustainSeconds: 120 },
      ['split a'],
    ],
    [
      'history reaching back only 1 min of a 2 min sustain → nothing',
      [hot('a', { history: folded(60, 11, 512) })],
      [],
      { splitSustainSeconds: 120 },
      [],
    ],
    ['sustain longer than the window, no history → nothing', [hot('a')], [], { splitSustainSeconds: 120 }, []],
  ])('%s', (_name, cells, ops, over, expected) => {
    expect(summary(decideScaling(input(cells, ops, over)))).toEqual(expected);
  });

  it('names the threshold, the sustain time and the latest load', () => {
    expect(decideScaling(input([hot('a')]))).toEqual([
      {
        kind: 'split',
        cell: 'a',
        children: [rect(0, 0, 128, 128), rect(128, 0, 128, 128)],
        reason: 'sessions above 400 for 5s (latest 512)',
      },
    ]);
  });
});

describe('decideScaling: splits wait for warm cells', () => {
  // Halves (no histogram): each split takes 2 warm cells.
  const hot = (id: string, sessions = 512, waitingSince?: number, why = 'WarmCapacity') => ({
    ...cell(id, { window: samples(sessions) }),
    blocked: waitingSince === undefined ? null : { why, at: ago(waitingSince) },
  });
  const WAIT = 10_000;
  // name, cells, warm cells available (undefined: no pool), expected
  it.each<[string, CellDoc[], number | undefined, string[]]>([
    ['no pool: no wait', [hot('a')], undefined, ['split a']],
    ['enough warm cells', [hot('a')], 2, ['split a']],
    ['one short: waits', [hot('a')], 1, ['blocked split a WarmCapacity']],
    ['none: waits', [hot('a')], 0, ['blocked split a WarmCapacity']],
    ['within one call, hottest first', [hot('a'), hot('b', 900)], 3, ['split b', 'blocked split a WarmCapacity']],
    ['two fit', [hot('a'), hot('b', 900)], 4, ['split b', 'split a']],
    ['waited 5 s of 10: still waits', [hot('a', 512, 5)], 0, ['blocked split a WarmCapacity']],
    ['waited 10 s: starts cold', [hot('a', 512, 10)], 0, ['split a']],
    ['a block 40 s old was another episode: waits again', [hot('a', 512, 40)], 0, ['blocked split a WarmCapacity']],
    [
      'blocked 12 s ago for another reason: waits',
      [hot('a', 512, 12, 'ConcurrencyLimit')],
      0,
      ['blocked split a WarmCapacity'],
    ],
  ])('%s', (_name, cells, available, expected) => {
    const inp = { ...input(cells), ...(available === undefined ? {} : { warm: { available, waitMs: WAIT } }) };
    expect(summary(decideScaling(inp))).toEqual(expected);
  });

  it('says how many are free and how long it waits', () => {
    const [d] = decideScaling({ ...input([hot('a')]), warm: { available: 1, waitMs: WAIT } });
    expect(d).toMatchObject({
      why: 'WarmCapacity',
      reason: expect.stringMatching(/1 warm cells free, splitting a takes 2; waits up to 10s/),
    });
  });

  it('a manual split does not wait', () => {
    const inp = { ...input([hot('a')]), warm: { available: 0, waitMs: WAIT } };
    expect(checkSplit(inp.cells[0]!, inp, { manual: true }).ok).toBe(true);
  });
});

describe('decideScaling: merges', () => {
  const TEN_MIN = { mergeSustainSeconds: 600 };
  const P = cell('P', { state: 'Terminated', boundary: rect(0, 0, 256, 128) });
  const child = (id: string, x: number, over: CellOver = {}) =>
    cell(id, { parent: 'P', boundary: rect(x, 0, 128, 128), window: samples(20, 40), ...over });
  const pair = (a: CellOver = {}, b: CellOver = {}) => [P, child('A', 0, a), child('B', 128, b)];
  it.each<[string, CellDoc[], Partial<Scaling>, string[]]>([
    ['cold siblings for 40s → merge', pair(), {}, ['merge A+B']],
    ['cold for only 20s → nothing', pair({}, { window: samples(20, 20) }), {}, []],
    [
      'late samples never merge: cold for 40s up to 3s ago, nothing since',
      pair({ window: samples(20, 40, { endAgo: 3 }) }, { window: samples(20, 40, { endAgo: 3 }) }),
      { mergeSustainSeconds: 2 },
      [],
    ],
    ['one sibling not cold → nothing', pair({}, { window: samples(150, 40) }), {}, []],
    ['one sibling not Ready → nothing', pair({}, { state: 'Pending' }), {}, []],
    [
      'combined ≤ floor(splitSessions / 2)',
      pair({ window: samples(99, 40) }, { window: samples(99, 40) }),
      { splitSessions: 397 },
      ['merge A+B'],
    ],
    [
      'combined above half the split threshold',
      pair({ window: samples(140, 40) }, { window: samples(140, 40) }),
      { mergeSessions: 150 },
      [],
    ],
    ['not the parent region → nothing', pair({}, { boundary: rect(128, 0, 64, 128) }), {}, []],
    ['parent doc gone → nothing', pair().slice(1), {}, []],
    ['a sibling hot by CPU splits, no merge', pair({ window: samples(20, 40, { cpuMillis: 900 }) }), {}, ['split A']],
    // A 10-minute sustain: 40 s kept in the window, the rest folded into the history.
    [
      'cold for 10 min → merge',
      pair({ history: folded(620, 41, 20) }, { history: folded(620, 41, 20) }),
      TEN_MIN,
      ['merge A+B'],
    ],
    [
      'one busy second 5 min ago, in the folded part → nothing',
      pair({ history: folded(620, 41, 20) }, { history: folded(620, 41, (s) => (s === 300 ? 150 : 20)) }),
      TEN_MIN,
      [],
    ],
    [
      'busy before the sustain window only → merge',
      pair({ history: folded(620, 41, 20) }, { history: folded(700, 41, (s) => (s > 640 ? 150 : 20)) }),
      TEN_MIN,
      ['merge A+B'],
    ],
    [
      'history reaching back 5 of the 10 min → nothing',
      pair({ history: folded(620, 41, 20) }, { history: folded(300, 41, 20) }),
      TEN_MIN,
      [],
    ],
    ['no history: a 10 min sustain is not covered → nothing', pair(), TEN_MIN, []],
  ])('%s', (_name, cells, over, expected) => {
    expect(summary(decideScaling(input(cells, [], over)))).toEqual(expected);
  });

  it('cool-down → blocked merge: the siblings were created by a split 45 s ago', () => {
    const ops = [op('s', ['P'], { completedAt: ago(45), targets: ['A', 'B'] })];
    expect(summary(decideScaling(input(pair(), ops, { cooldownSeconds: 60 })))).toEqual(['blocked merge A+B Cooldown']);
  });

  it('returns the parent and its boundary', () => {
    expect(decideScaling(input(pair()))).toEqual([
      {
        kind: 'merge',
        cells: ['A', 'B'],
        parent: 'P',
        boundary: P.boundary,
        reason: expect.stringMatching(/below 100 sessions for 30s \(combined 40 ≤ 200\)/),
      },
    ]);
  });
});

describe('properties', () => {
  const strategyArb = fc.constantFrom('halves' as const, 'quads' as const, 'load-aware' as const);
  const histArb = fc.option(
    fc.record({
      x: fc.array(fc.nat({ max: 50 }), { maxLength: 16 }),
      y: fc.array(fc.nat({ max: 50 }), { maxLength: 16 }),
    }),
  );

  it('(a) split children partition the cell exactly and respect minCellSize', () => {
    fc.assert(
      fc.property(
        fc.record({
          x: fc.integer({ min: -1000, max: 1000 }),
          y: fc.integer({ min: -1000, max: 1000 }),
          width: fc.integer({ min: 1, max: 600 }),
          height: fc.integer({ min: 1, max: 600 }),
        }),
        strategyArb,
        fc.integer({ min: 1, max: 64 }),
        histArb,
        (boundary, strategy, minCellSize, hist) => {
          const c = cell('a', { boundary, hist, window: samples(512) });
          const inp = input([c], [], { strategy, minCellSize });
          const children = splitChildren(c, inp.scaling);
          // Refused only when not even halving fits.
          if (!children) {
            const halves = splitHalves(boundary, minCellSize);
            expect(!halves || Math.min(boundary.width, boundary.height) < minCellSize).toBe(true);
          }
          for (const d of decideScaling(inp)) {
            if (d.kind !== 'split') continue;
            expect(d.children).toEqual(children);
            expect(isPartition(boundary, d.children)).toBe(true);
            for (const r of d.children) expect(Math.min(r.width, r.height)).toBeGreaterThanOrEqual(minCellSize);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('(b) over random ticks: rate limits, concurrency, cool-downs and maxCells hold', () => {
    const levels = [0, 50, 300, 450, 700];
    fc.assert(
      fc.property(
        fc.record({
          splitsPerMinuteGlobal: fc.integer({ min: 1, max: 4 }),
          splitsPerMinutePerCell: fc.integer({ min: 1, max: 2 }),
          cooldownSeconds: fc.integer({ min: 0, max: 40 }),
          splitSustainSeconds: fc.integer({ min: 0, max: 5 }),
          mergeSustainSeconds: fc.integer({ min: 0, max: 10 }),
          maxCells: fc.integer({ min: 4, max: 12 }),
          maxConcurrentSplits: fc.integer({ min: 1, max: 3 }),
          strategy: strategyArb,
        }),
        fc.array(
          fc.record({
            dt: fc.integer({ min: 1, max: 4 }),
            loads: fc.array(fc.integer({ min: 0, max: levels.length - 1 }), { minLength: 16, maxLength: 16 }),
          }),
          { minLength: 10, maxLength: 60 },
        ),
        (over, ticks) => {
          const sc = scaling(over);
          let cells: CellDoc[] = [0, 1, 2, 3].map((i) =>
            cell(`c${i}`, { boundary: rect((i % 2) * 256, Math.floor(i / 2) * 256, 256, 256) }),
          );
          const ops: OperationDoc[] = [];
          let now = T;
          let serial = 0;
          for (const { dt, loads } of ticks) {
            now += dt * 1000;
            // A split runs for 3 s (its children are Busy meanwhile), then completes.
            ops.forEach((o, i) => {
              if (o.state === 'HandingOff' && now - Date.parse(o.createdAt) >= 3000) {
                ops[i] = { ...o, state: 'Completed', completedAt: at(now) };
              }
            });
            let live = 0;
            cells = cells.map((c) => {
              if (!isLiveCell(c)) return c;
              const sessions = levels[loads[live++ % loads.length]!]!;
              const window = [...c.load.window, { at: at(now), sessions, cpuMillis: 0, memoryMiB: 0 }].slice(-60);
              return { ...c, load: { ...c.load, sessions, window, hist: { x: [sessions, 0, 0, 0], y: [1, 1, 1, 1] } } };
            });
            const decisions = decideScaling({
              scaling: sc,
              capacity: CAPACITY,
              cells,
              operations: ops,
              now: new Date(now),
            });
            const touched = decisions.flatMap((d) => (d.kind === 'split' ? [d.cell] : d.cells));
            expect(new Set(touched).size).toBe(touched.length);
            for (const d of decisions) {
              if (d.kind === 'split') {
                const parent = cells.find((c) => c.id === d.cell)!;
                expect(now - Date.parse(parent.readyAt ?? parent.createdAt)).toBeGreaterThanOrEqual(
                  sc.cooldownSeconds * 1000,
                );
                const children = d.children.map((boundary) => ({
                  ...parent,
                  id: `${parent.id}.${serial++}`,
                  boundary,
                  parent: parent.id,
                  lineage: [...parent.lineage, parent.id],
                  readyAt: at(now),
                  createdAt: at(now),
                  load: emptyLoad(),
                }));
                cells = [
                  ...cells.map((c) => (c.id === d.cell ? { ...c, state: 'Terminated' as const } : c)),
                  ...children,
                ];
                ops.push(
                  op(`op${serial++}`, [d.cell], {
                    state: 'HandingOff',
                    createdAt: at(now),
                    targets: children.map((c) => c.id),
                  }),
                );
              } else if (d.kind === 'merge') {
                cells = cells.map((c) =>
                  d.cells.includes(c.id)
                    ? { ...c, state: 'Terminated' as const }
                    : c.id === d.parent
                      ? { ...c, state: 'Ready' as const, readyAt: at(now), load: { ...c.load, window: [] } }
                      : c,
                );
                ops.push(op(`op${serial++}`, d.cells, { kind: 'merge', createdAt: at(now), targets: [d.parent] }));
              }
            }
            expect(cells.filter(isLiveCell).length).toBeLessThanOrEqual(sc.maxCells);
            expect(ops.filter((o) => o.kind === 'split' && o.state === 'HandingOff').length).toBeLessThanOrEqual(
              sc.maxConcurrentSplits,
            );
          }
          const splitTimes = ops.filter((o) => o.kind === 'split').map((o) => Date.parse(o.createdAt));
          for (const t of splitTimes) {
            const inWindow = splitTimes.filter((u) => u > t - 60_000 && u <= t).length;
            expect(inWindow).toBeLessThanOrEqual(sc.splitsPerMinuteGlobal);
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('(d) a split that has not waited out warmPool.waitSeconds never takes more children than the pool has', () => {
    const WAIT_S = 10;
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            sessions: fc.integer({ min: 401, max: 2000 }),
            waited: fc.option(fc.integer({ min: 0, max: 60 }), { nil: undefined }),
          }),
          { minLength: 1, maxLength: 8 },
        ),
        fc.integer({ min: 0, max: 12 }),
        strategyArb,
        (hot, available, strategy) => {
          const cells = hot.map((h, i) => ({
            ...cell(`h${i}`, { boundary: rect(i * 256, 0, 256, 256), window: samples(h.sessions) }),
            blocked: h.waited === undefined ? null : { why: 'WarmCapacity', at: ago(h.waited) },
          }));
          const waitedOut = (id: string) => {
            const w = hot[Number(id.slice(1))]!.waited;
            return w !== undefined && w >= WAIT_S && w < 30;
          };
          const limits = { strategy, maxConcurrentSplits: 64, splitsPerMinuteGlobal: 100, maxCells: 256 };
          const decisions = decideScaling({ ...input(cells, [], limits), warm: { available, waitMs: WAIT_S * 1000 } });
          let taken = 0;
          for (const d of decisions) {
            if (d.kind === 'split') {
              taken += d.children.length;
              if (!waitedOut(d.cell)) expect(taken).toBeLessThanOrEqual(available);
            } else if (d.kind === 'blocked') {
              expect(d.why).toBe('WarmCapacity');
              expect(waitedOut(d.cells[0]!)).toBe(false);
            }
          }
          // Every hot cell is decided on: split, or waiting.
          expect(decisions).toHaveLength(hot.length);
        },
      ),
    );
  });

  it('(c) no oscillation: load between the thresholds never splits or merges', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 100, max: 500 }).chain((splitSessions) =>
          fc.record({
            splitSessions: fc.constant(splitSessions),
            mergeSessions: fc.integer({ min: 0, max: Math.floor(splitSessions * 0.6) }),
            mergeSustainSeconds: fc.integer({ min: 0, max: 30 }),
            splitSustainSeconds: fc.integer({ min: 0, max: 30 }),
          }),
        ),
        fc.array(fc.double({ min: -0.1, max: 0.1, noNaN: true }), { minLength: 4 * 31, maxLength: 4 * 31 }),
        (over, noise) => {
          const window = (k: number) =>
            Array.from({ length: 31 }, (_, i) => ({
              at: ago(30 - i),
              sessions: Math.round(over.splitSessions * 0.75 * (1 + noise[k * 31 + i]!)),
              cpuMillis: 100,
              memoryMiB: 0,
            }));
          const cells = [
            cell('P', { state: 'Terminated', boundary: rect(0, 0, 256, 128) }),
            cell('A', { parent: 'P', boundary: rect(0, 0, 128, 128), window: window(0) }),
            cell('B', { parent: 'P', boundary: rect(128, 0, 128, 128), window: window(1) }),
            cell('C', { boundary: rect(256, 0, 256, 128), window: window(2) }),
            cell('D', { boundary: rect(0, 128, 512, 128), window: window(3) }),
          ];
          expect(decideScaling(input(cells, [], over))).toEqual([]);
        },
      ),
      { numRuns: 200 },
    );
  });
});
