import type { EventType } from '../world/events';
import { isPartition, type Rect } from '../world/geometry';
import { AgentReportSchema, type AgentReportKind } from '../ports/messages';
import { CellDocSchema, type CellDoc, type WorldDoc } from '../world/model';
import { worldFixture } from '../testing/fixtures';
import {
  advanceOperation,
  beginMerge,
  beginSplit,
  newOpContext,
  recordHandoff,
  type BeginOptions,
  type OpContext,
} from './operations-plan';
import type { OperationDoc, OperationState } from './operations';
import { applyReport } from './reconcile';

/**
 * The split/merge state machine on a fixed clock. A `Sim` holds the persisted
 * world, cells and operation; each step runs one `advanceOperation` on a fresh
 * context (as one reconcile does) and keeps what it collected, so a table row can
 * say exactly which commands and events that one pass produced.
 */

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const iso = (ms: number) => new Date(T0 + ms).toISOString();
const STEP_MS = 10_000;
const READY_S = 10;

const rect = (x: number, y: number, width: number, height: number): Rect => ({ x, y, width, height });
const PARENT = rect(0, 0, 100, 100);
const LEFT = rect(0, 0, 50, 100);
const RIGHT = rect(50, 0, 50, 100);
const endpoint = (id: string) => `http://${id}.cells.test:7000`;

const worldDoc = (): WorldDoc => worldFixture({ at: iso(-60_000) });

function readyCell(id: string, boundary: Rect, sessions = 0): CellDoc {
  return CellDocSchema.parse({
    id,
    world: 'world-a',
    boundary,
    state: 'Ready',
    incarnation: 1,
    endpoint: endpoint(id),
    readyAt: iso(-50_000),
    load: { sessions, cpuMillis: 0, memoryMiB: 0, window: [] },
    routable: true,
    createdAt: iso(-60_000),
    updatedAt: iso(-50_000),
    correlationId: 'corr-world',
  });
}

const initialCells = () => [readyCell('r0c0', PARENT, 40), readyCell('r0c1', rect(100, 0, 100, 100), 7)];

function options(over: Partial<BeginOptions> = {}): BeginOptions {
  return {
    id: 'op-1',
    cause: 'ManualOverride',
    reason: 'test',
    principal: 'token:admin',
    correlationId: 'corr-op',
    readinessTimeoutSeconds: READY_S,
    ...over,
  };
}

class Sim {
  ms = 0;
  op!: OperationDoc;
  /** The context of the last pass: what that one pass changed and collected. */
  ctx!: OpContext;

  constructor(
    public world: WorldDoc = worldDoc(),
    public cells: CellDoc[] = initialCells(),
  ) {}

  private context(): OpContext {
    return newOpContext(this.world, this.cells, new Date(T0 + this.ms), STEP_MS);
  }

  private commit(ctx: OpContext): this {
    this.ctx = ctx;
    this.world = ctx.world;
    this.cells = [...ctx.cells.values()];
    return this;
  }

  split(children: Rect[] = [LEFT, RIGHT], over: Partial<BeginOptions> = {}): this {
    const ctx = this.context();
    this.op = beginSplit(ctx, 'r0c0', children, options(over));
    return this.commit(ctx);
  }

  merge(siblings: string[], parent: string, over: Partial<BeginOptions> = {}): this {
    const ctx = this.context();
    this.op = beginMerge(ctx, siblings, parent, options({ id: 'op-2', ...over }));
    return this.commit(ctx);
  }

  advance(): this {
    const ctx = this.context();
    this.op = advanceOperation(ctx, this.op);
    return this.commit(ctx);
  }

  tick(ms: number): this {
    this.ms += ms;
    return this;
  }

  /** Applies an agent report to the current incarnation of `id`, as onAgentReport does. */
  report(id: string, kind: AgentReportKind): this {
    const c = this.cell(id);
    const report = AgentReportSchema.parse({
      agentId: 'agent-1',
      kind,
      world: 'world-a',
      cell: id,
      incarnation: c.incarnation,
      at: iso(this.ms),
      correlationId: 'corr-op',
      ...(kind === 'ready' ? { endpoint: endpoint(id) } : {}),
      ...(kind === 'exited' ? { exitCode: 0, reason: 'exited' } : {}),
    });
    const next = applyReport(c, report, new Date(T0 + this.ms)).cell;
    if (!next) throw new Error(`report ${kind} for ${id} changed nothing`);
    this.cells = this.cells.map((x) => (x.id === id ? next : x));
    return this;
  }

  /** Records a hand-off report on the operation, as onAgentReport does. */
  handoff(source: string, moved: number): this {
    const next = recordHandoff(this.op, source, moved, new Date(T0 + this.ms));
    if (!next) throw new Error(`hand-off of ${source} changed nothing`);
    this.op = next;
    return this;
  }

  cell(id: string): CellDoc {
    const c = this.cells.find((x) => x.id === id);
    if (!c) throw new Error(`no cell ${id}`);
    return c;
  }
}

/** `Ready routable`, `Pending held`, `Splitting`: the fields routing depends on. */
const summary = (c: CellDoc) => [c.state, c.routable && 'routable', c.holdRouting && 'held'].filter(Boolean).join(' ');

interface Expected {
  state: OperationState;
  cells?: Record<string, string>;
  /** Exactly the commands this pass collected; omitted means none. */
  start?: string[];
  stop?: string[];
  handoff?: string[];
  events?: EventType[];
  epoch?: number;
}

type Step = [label: string, act: (s: Sim) => void, expected: Expected];

function check(s: Sim, e: Expected): void {
  const got = {
    state: s.op.state,
    cells: e.cells ? Object.fromEntries(Object.keys(e.cells).map((id) => [id, summary(s.cell(id))])) : undefined,
    start: s.ctx.start.map((c) => `${c.cell}#${c.incarnation}${c.neverReady ? ' neverReady' : ''}`),
    stop: s.ctx.stop.map((c) => `${c.cell}#${c.incarnation}`),
    handoff: s.ctx.handoff.map(
      (h) =>
        `${h.cell}#${h.incarnation} epoch ${h.epoch} → ${h.targets.map((t) => `${t.cell}@${t.endpoint}`).join(', ')}`,
    ),
    events: s.ctx.events.map((ev) => ev.type),
    epoch: e.epoch === undefined ? undefined : s.world.status.routingEpoch,
  };
  expect(got).toEqual({
    state: e.state,
    cells: e.cells,
    start: e.start ?? [],
    stop: e.stop ?? [],
    handoff: e.handoff ?? [],
    events: e.events ?? [],
    epoch: e.epoch,
  });
}

/** Runs the steps in order on one Sim; each row checks what its own pass did. */
function runTable(make: () => Sim, steps: Step[]): Sim {
  const s = make();
  for (const [label, act, expected] of steps) {
    act(s);
    try {
      check(s, expected);
    } catch (err) {
      throw new Error(`step "${label}": ${(err as Error).message}`, { cause: err });
    }
  }
  return s;
}

const HANDOFF_SPLIT = `r0c0#1 epoch 2 → r0c0.0@${endpoint('r0c0.0')}, r0c0.1@${endpoint('r0c0.1')}`;

const SPLIT_HAPPY: Step[] = [
  [
    'begin: children start held, parent Splitting',
    (s) => s.split(),
    {
      state: 'ChildrenStarting',
      cells: { r0c0: 'Splitting routable', 'r0c0.0': 'Pending held', 'r0c0.1': 'Pending held', r0c1: 'Ready routable' },
      start: ['r0c0.0#1', 'r0c0.1#1'],
      events: ['OperationStarted'],
      epoch: 1,
    },
  ],
  ['nothing new: stays', (s) => s.tick(1000).advance(), { state: 'ChildrenStarting' }],
  [
    'one child Ready: still waiting, the child is not routable yet',
    (s) => s.tick(1000).report('r0c0.0', 'ready').advance(),
    { state: 'ChildrenStarting', cells: { 'r0c0.0': 'Ready held', r0c0: 'Splitting routable' } },
  ],
  [
    'both Ready: ChildrenReady → HandingOff in one pass, new epoch, children own their regions',
    (s) => s.tick(1000).report('r0c0.1', 'ready').advance(),
    {
      state: 'HandingOff',
      cells: { r0c0: 'Splitting', 'r0c0.0': 'Ready routable', 'r0c0.1': 'Ready routable', r0c1: 'Ready routable' },
      handoff: [HANDOFF_SPLIT],
      epoch: 2,
    },
  ],
  [
    'no hand-off report, before the step deadline: nothing re-sent',
    (s) => s.tick(1000).advance(),
    { state: 'HandingOff' },
  ],
  [
    'hand-off recorded: Completed with CellSplit; the parent stops after, off the critical path',
    (s) => s.tick(1000).handoff('r0c0', 40).advance(),
    {
      state: 'Completed',
      cells: { r0c0: 'Draining', 'r0c0.0': 'Ready routable' },
      stop: ['r0c0#1'],
      events: ['CellSplit'],
      epoch: 2,
    },
  ],
  [
    'parent still stopping: the operation is done, no second stop from it (the reconciler re-sends)',
    (s) => s.tick(1000).advance(),
    { state: 'Completed', cells: { r0c0: 'Draining' } },
  ],
  [
    'parent Terminated: nothing left for the operation',
    (s) => s.tick(1000).report('r0c0', 'stopped').advance(),
    { state: 'Completed', cells: { r0c0: 'Terminated' }, epoch: 2 },
  ],
  ['advancing a Completed split changes nothing', (s) => s.tick(1000).advance(), { state: 'Completed' }],
];

const SPLIT_ROLLBACK: Step[] = [
  [
    'begin',
    (s) => s.split(),
    { state: 'ChildrenStarting', start: ['r0c0.0#1', 'r0c0.1#1'], events: ['OperationStarted'] },
  ],
  ['one child Ready', (s) => s.tick(5000).report('r0c0.0', 'ready').advance(), { state: 'ChildrenStarting' }],
  ['exactly at the deadline: still waiting', (s) => s.tick(5000).advance(), { state: 'ChildrenStarting' }],
  [
    'deadline passed: RollingBack stops the children, the parent serves again at once',
    (s) => s.tick(1).advance(),
    {
      state: 'RollingBack',
      cells: { r0c0: 'Ready routable', 'r0c0.0': 'Draining held', 'r0c0.1': 'Draining held' },
      stop: ['r0c0.0#1', 'r0c0.1#1'],
      epoch: 1,
    },
  ],
  ['a child still draining: stays, no second stop', (s) => s.tick(100).advance(), { state: 'RollingBack' }],
  [
    'one child Terminated: still waiting for the other',
    (s) => s.tick(100).report('r0c0.0', 'stopped').advance(),
    { state: 'RollingBack', cells: { 'r0c0.0': 'Terminated held', 'r0c0.1': 'Draining held' } },
  ],
  [
    'both children gone: RolledBack with SplitRollback, routing untouched',
    (s) => s.tick(100).report('r0c0.1', 'exited').advance(),
    {
      state: 'RolledBack',
      cells: { r0c0: 'Ready routable', 'r0c0.0': 'Terminated held', 'r0c0.1': 'Terminated held' },
      events: ['SplitRollback'],
      epoch: 1,
    },
  ],
  ['advancing a RolledBack split changes nothing', (s) => s.tick(1000).advance(), { state: 'RolledBack' }],
];

const SPLIT_STEP_DEADLINE: Step[] = [
  [
    'begin',
    (s) => s.split(),
    { state: 'ChildrenStarting', start: ['r0c0.0#1', 'r0c0.1#1'], events: ['OperationStarted'] },
  ],
  [
    'children Ready: hand-off sent',
    (s) => s.tick(1000).report('r0c0.0', 'ready').report('r0c0.1', 'ready').advance(),
    { state: 'HandingOff', handoff: [HANDOFF_SPLIT], epoch: 2 },
  ],
  ['exactly at the step deadline: nothing re-sent', (s) => s.tick(STEP_MS).advance(), { state: 'HandingOff' }],
  [
    'step deadline passed: the hand-off is sent again, same epoch',
    (s) => s.tick(1).advance(),
    { state: 'HandingOff', handoff: [HANDOFF_SPLIT], epoch: 2 },
  ],
  ['the deadline moved on: not re-sent on the next pass', (s) => s.tick(1000).advance(), { state: 'HandingOff' }],
  [
    'answered late: Completed, the parent stops',
    (s) => s.tick(1000).handoff('r0c0', 40).advance(),
    { state: 'Completed', stop: ['r0c0#1'], events: ['CellSplit'] },
  ],
];

/** The world after the split of r0c0 completed: r0c0 Terminated, its two children Ready and routable. */
function splitDone(): Sim {
  const s = runTable(() => new Sim(), SPLIT_HAPPY);
  s.tick(60_000);
  return s;
}

const HANDOFF_MERGE = (src: string) => `${src}#1 epoch 3 → r0c0@${endpoint('r0c0')}`;

const MERGE: Step[] = [
  [
    'begin: the parent id runs again with its next incarnation, held; siblings Merging',
    (s) => s.merge(['r0c0.1', 'r0c0.0'], 'r0c0'),
    {
      state: 'ChildrenStarting',
      cells: { r0c0: 'Pending held', 'r0c0.0': 'Merging routable', 'r0c0.1': 'Merging routable' },
      start: ['r0c0#2'],
      events: ['OperationStarted'],
      epoch: 2,
    },
  ],
  ['target not Ready: stays', (s) => s.tick(1000).advance(), { state: 'ChildrenStarting' }],
  [
    'target Ready: hand-off sent to every sibling, new epoch, target routable',
    (s) => s.tick(1000).report('r0c0', 'ready').advance(),
    {
      state: 'HandingOff',
      cells: { r0c0: 'Ready routable', 'r0c0.0': 'Merging', 'r0c0.1': 'Merging' },
      handoff: [HANDOFF_MERGE('r0c0.0'), HANDOFF_MERGE('r0c0.1')],
      epoch: 3,
    },
  ],
  [
    'one sibling answered: still HandingOff',
    (s) => s.tick(1000).handoff('r0c0.0', 12).advance(),
    { state: 'HandingOff' },
  ],
  [
    'step deadline passed: re-sent only to the sibling that has not answered',
    (s) => s.tick(STEP_MS).advance(),
    { state: 'HandingOff', handoff: [HANDOFF_MERGE('r0c0.1')], epoch: 3 },
  ],
  [
    'every sibling answered: Completed with CellMerge; the siblings stop after',
    (s) => s.tick(1000).handoff('r0c0.1', 28).advance(),
    {
      state: 'Completed',
      cells: { r0c0: 'Ready routable', 'r0c0.0': 'Draining', 'r0c0.1': 'Draining' },
      stop: ['r0c0.0#1', 'r0c0.1#1'],
      events: ['CellMerge'],
      epoch: 3,
    },
  ],
  [
    'one sibling Terminated',
    (s) => s.tick(1000).report('r0c0.0', 'stopped').advance(),
    { state: 'Completed', cells: { 'r0c0.0': 'Terminated', 'r0c0.1': 'Draining' } },
  ],
  [
    'a stopping sibling that exits is Terminated, never restarted',
    (s) => s.tick(1000).report('r0c0.1', 'exited').advance(),
    { state: 'Completed', cells: { r0c0: 'Ready routable', 'r0c0.0': 'Terminated', 'r0c0.1': 'Terminated' }, epoch: 3 },
  ],
  ['advancing a Completed merge changes nothing', (s) => s.tick(1000).advance(), { state: 'Completed' }],
];

describe('split: Planned → ChildrenStarting → ChildrenReady → HandingOff → Completed (the parent drains after)', () => {
  it.each<[string, Step[]]>([
    ['happy path', SPLIT_HAPPY],
    ['rollback when the children are not Ready by the deadline', SPLIT_ROLLBACK],
    ['hand-off re-sent after the step deadline', SPLIT_STEP_DEADLINE],
  ])('%s', (_name, steps) => {
    runTable(() => new Sim(), steps);
  });

  it('creates the children held under the parent, with the lineage and the deadlines', () => {
    const s = new Sim().split();
    expect(s.op).toMatchObject({
      kind: 'split',
      sources: ['r0c0'],
      targets: [
        { id: 'r0c0.0', boundary: LEFT, incarnation: 1 },
        { id: 'r0c0.1', boundary: RIGHT, incarnation: 1 },
      ],
      sessionsBefore: 40,
      routingEpoch: null,
      readyDeadline: iso(READY_S * 1000),
      stepDeadline: null,
      steps: { Planned: iso(0), ChildrenStarting: iso(0) },
    });
    expect([...s.ctx.created].sort()).toEqual(['r0c0.0', 'r0c0.1']);
    expect([...s.ctx.changed].sort()).toEqual(['r0c0', 'r0c0.0', 'r0c0.1']);
    for (const id of ['r0c0.0', 'r0c0.1']) {
      expect(s.cell(id)).toMatchObject({ parent: 'r0c0', lineage: ['r0c0'], incarnation: 1, correlationId: 'corr-op' });
    }
    expect(
      isPartition(
        PARENT,
        s.op.targets.map((t) => t.boundary),
      ),
    ).toBe(true);
  });

  it('marks the start commands of a rollback drill neverReady', () => {
    const s = new Sim().split([LEFT, RIGHT], { testNeverReady: true });
    check(s, {
      state: 'ChildrenStarting',
      start: ['r0c0.0#1 neverReady', 'r0c0.1#1 neverReady'],
      events: ['OperationStarted'],
    });
  });

  it('records the epoch, the sessions moved, the stats and the CellSplit event', () => {
    const s = runTable(() => new Sim(), SPLIT_HAPPY.slice(0, 6));
    expect(s.op).toMatchObject({
      routingEpoch: 2,
      handoffs: { r0c0: 40 },
      sessionsMoved: 40,
      completedAt: iso(5000),
      stepDeadline: null,
      error: null,
    });
    expect(Object.keys(s.op.steps)).toEqual([
      'Planned',
      'ChildrenStarting',
      'ChildrenReady',
      'HandingOff',
      'Completed',
    ]);
    expect(s.op.steps.HandingOff).toBe(iso(3000));
    expect(s.world.status.stats).toMatchObject({ splits: 1, merges: 0, rollbacks: 0, sessionsReassigned: 40 });
    expect(s.ctx.durations).toEqual([{ kind: 'split', seconds: 5 }]);
    expect(s.ctx.events[0]).toMatchObject({
      type: 'CellSplit',
      cells: ['r0c0', 'r0c0.0', 'r0c0.1'],
      reason: 'ManualOverride',
      data: { operation: 'op-1', parent: 'r0c0', children: ['r0c0.0', 'r0c0.1'], sessionsMoved: 40, seconds: 5 },
    });
  });

  it('completes an operation left in Draining by an earlier version (its sources already stopping)', () => {
    const s = runTable(() => new Sim(), SPLIT_HAPPY.slice(0, 5));
    s.op = { ...s.op, state: 'Draining', handoffs: { r0c0: 40 }, sessionsMoved: 40 };
    s.tick(1000).advance();
    expect(s.op).toMatchObject({ state: 'Completed', completedAt: iso(5000) });
    expect(s.ctx.events.map((e) => e.type)).toEqual(['CellSplit']);
  });

  it('retires a parent that crashed during the hand-off instead of stopping it: never restarted', () => {
    const s = runTable(() => new Sim(), SPLIT_HAPPY.slice(0, 5));
    s.report('r0c0', 'exited');
    s.tick(1000).handoff('r0c0', 0).advance();
    expect(s.op.state).toBe('Completed');
    expect(summary(s.cell('r0c0'))).toBe('Terminated');
    expect(s.ctx.stop).toEqual([]);
  });

  it('records the rollback: the error names the cells not Ready, rollbacks +1, SplitRollback', () => {
    const s = runTable(() => new Sim(), SPLIT_ROLLBACK.slice(0, -1));
    expect(s.op.error).toBe('not ready by the deadline: r0c0.1');
    expect(s.op.routingEpoch).toBeNull();
    expect(s.world.status.stats).toMatchObject({ splits: 0, rollbacks: 1, sessionsReassigned: 0 });
    expect(s.ctx.events[0]).toMatchObject({
      type: 'SplitRollback',
      severity: 'Warning',
      reason: 'ReadinessTimeout',
      cells: ['r0c0', 'r0c0.0', 'r0c0.1'],
      data: { operation: 'op-1', kind: 'split', cause: 'not ready by the deadline: r0c0.1' },
    });
    expect(s.ctx.durations).toEqual([]);
  });

  it('moves the step deadline on when it re-sends the hand-off', () => {
    const s = runTable(() => new Sim(), SPLIT_STEP_DEADLINE.slice(0, 4));
    expect(s.op.stepDeadline).toBe(iso(1000 + STEP_MS + 1 + STEP_MS));
  });

  it('rolls back at once when a source is gone before it starts', () => {
    const cells = initialCells().map((c) =>
      c.id === 'r0c0' ? { ...c, state: 'Failed' as const, routable: false } : c,
    );
    const s = new Sim(worldDoc(), cells).split();
    expect(s.op).toMatchObject({ state: 'RolledBack', error: 'a source cell is gone', completedAt: iso(0) });
    expect([s.ctx.start, s.ctx.stop, s.ctx.handoff, s.ctx.events, [...s.ctx.changed]]).toEqual([[], [], [], [], []]);
  });

  it.each<[string, Rect[]]>([
    ['a gap', [rect(0, 0, 50, 100), rect(60, 0, 40, 100)]],
    ['an overlap', [rect(0, 0, 60, 100), rect(50, 0, 50, 100)]],
    ['a part outside', [rect(0, 0, 50, 100), rect(50, 0, 60, 100)]],
  ])('refuses children with %s', (_name, children) => {
    expect(() => new Sim().split(children)).toThrow('children do not partition r0c0');
  });
});

describe('recordHandoff', () => {
  const handingOff = () => runTable(() => new Sim(), SPLIT_HAPPY.slice(0, 4)).op;
  const ops: Record<string, () => OperationDoc> = {
    ChildrenStarting: () => runTable(() => new Sim(), SPLIT_HAPPY.slice(0, 1)).op,
    HandingOff: handingOff,
    'HandingOff, already answered': () => recordHandoff(handingOff(), 'r0c0', 40, new Date(T0))!,
    Completed: () => runTable(() => new Sim(), SPLIT_HAPPY).op,
    RolledBack: () => runTable(() => new Sim(), SPLIT_ROLLBACK).op,
  };

  it.each<[string, string, string, number]>([
    ['early (before the hand-off was sent)', 'ChildrenStarting', 'r0c0', 40],
    ['from a cell that is not a source', 'HandingOff', 'r0c1', 40],
    ['from a target', 'HandingOff', 'r0c0.0', 0],
    ['duplicate', 'HandingOff, already answered', 'r0c0', 40],
    ['duplicate with another count', 'HandingOff, already answered', 'r0c0', 7],
    ['late (Completed)', 'Completed', 'r0c0', 40],
    ['after a rollback', 'RolledBack', 'r0c0', 40],
  ])('ignores a report that is %s', (_name, state, source, moved) => {
    expect(recordHandoff(ops[state]!(), source, moved, new Date(T0 + 99_000))).toBeUndefined();
  });

  it('records the first answer of a source, without moving the state', () => {
    const op = handingOff();
    const next = recordHandoff(op, 'r0c0', 40, new Date(T0 + 99_000));
    expect(next).toEqual({ ...op, handoffs: { r0c0: 40 }, updatedAt: iso(99_000) });
    expect(op.handoffs).toEqual({});
  });

  it('records zero sessions (a source that was gone) like any answer', () => {
    expect(recordHandoff(handingOff(), 'r0c0', 0, new Date(T0))?.handoffs).toEqual({ r0c0: 0 });
  });
});

describe('merge: the mirror of a split', () => {
  it('runs ChildrenStarting → HandingOff → Completed, the siblings draining after', () => {
    runTable(splitDone, MERGE);
  });

  it('targets the parent id with its next incarnation, sorted siblings as sources', () => {
    const s = splitDone().merge(['r0c0.1', 'r0c0.0'], 'r0c0');
    expect(s.op).toMatchObject({
      kind: 'merge',
      sources: ['r0c0.0', 'r0c0.1'],
      targets: [{ id: 'r0c0', boundary: PARENT, incarnation: 2 }],
    });
    expect(s.cell('r0c0')).toMatchObject({ incarnation: 2, parent: null, lineage: [], endpoint: null });
    expect([...s.ctx.created]).toEqual([]);
  });

  it('records the sessions of every sibling, the stats and the CellMerge event', () => {
    const s = runTable(splitDone, MERGE.slice(0, 6));
    expect(s.op).toMatchObject({ state: 'Completed', handoffs: { 'r0c0.0': 12, 'r0c0.1': 28 }, sessionsMoved: 40 });
    expect(s.world.status.stats).toMatchObject({ splits: 1, merges: 1, sessionsReassigned: 80 });
    expect(s.ctx.events[0]).toMatchObject({
      type: 'CellMerge',
      cells: ['r0c0.0', 'r0c0.1', 'r0c0'],
      data: { operation: 'op-2', parent: 'r0c0', boundary: PARENT, siblings: ['r0c0.0', 'r0c0.1'], sessionsMoved: 40 },
    });
  });

  it('refuses siblings that do not tile the parent', () => {
    expect(() => splitDone().merge(['r0c0.0', 'r0c1'], 'r0c0')).toThrow('siblings do not tile r0c0');
  });
});

describe('advanceOperation is idempotent', () => {
  it.each<[string, () => Sim]>([
    ['a Completed split', () => runTable(() => new Sim(), SPLIT_HAPPY)],
    ['a RolledBack split', () => runTable(() => new Sim(), SPLIT_ROLLBACK)],
    ['a Completed merge', () => runTable(splitDone, MERGE)],
  ])('advancing %s again changes nothing at all', (_name, make) => {
    const s = make().tick(3_600_000);
    const before = { op: s.op, world: structuredClone(s.world), cells: structuredClone(s.cells) };
    for (let i = 0; i < 3; i++) s.advance();
    expect(s.op).toBe(before.op);
    expect(s.world).toEqual(before.world);
    expect(s.cells).toEqual(before.cells);
    expect(s.ctx.changed.size + s.ctx.start.length + s.ctx.stop.length + s.ctx.handoff.length).toBe(0);
    expect([s.ctx.events, s.ctx.durations]).toEqual([[], []]);
  });

  it.each<[string, Step[], number]>([
    ['ChildrenStarting', SPLIT_HAPPY, 1],
    ['HandingOff', SPLIT_HAPPY, 4],
    ['Completed with the parent stopping', SPLIT_HAPPY, 6],
    ['RollingBack', SPLIT_ROLLBACK, 4],
  ])('advancing %s twice at the same instant is the same as once', (_name, steps, n) => {
    const s = runTable(() => new Sim(), steps.slice(0, n));
    const once = { op: s.op, world: structuredClone(s.world), cells: structuredClone(s.cells) };
    s.advance();
    expect(s.op).toBe(once.op);
    expect(s.world).toEqual(once.world);
    expect(s.cells).toEqual(once.cells);
    expect(s.ctx.changed.size + s.ctx.start.length + s.ctx.stop.length + s.ctx.handoff.length).toBe(0);
  });
});
