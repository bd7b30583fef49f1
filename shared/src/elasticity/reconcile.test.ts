import fc from 'fast-check';
import { AgentReportSchema, type AgentReport, type AgentReportKind } from '../ports/messages';
import {
  CellDocSchema,
  CellStateSchema,
  WorldDocSchema,
  type CellDoc,
  type CellState,
  type WorldDoc,
} from '../world/model';
import { applyReport, applyReports, planWorld, type WorldPlan } from './reconcile';
import { initialCells } from '../world/world';

const NOW = new Date('2025-06-01T12:00:00.000Z');
const ISO = NOW.toISOString();
const CREATED = '2025-06-01T11:59:00.000Z'; // one minute before NOW
const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();
const later = (ms: number) => new Date(NOW.getTime() + ms);

/** A 2×1 world (cells r0c0, r0c1) that has not been initialized yet. */
function worldDoc(over: { status?: Partial<WorldDoc['status']>; deletionRequestedAt?: string } = {}): WorldDoc {
  return WorldDocSchema.parse({
    name: 'world-a',
    spec: { topology: { bounds: { x: 0, y: 0, width: 200, height: 100 }, grid: { cols: 2, rows: 1 } } },
    specHash: 'hash',
    status: {
      phase: 'Pending',
      ready: false,
      cellsActive: 0,
      routingEpoch: 0,
      generation: 1,
      observedGeneration: 0,
      ...over.status,
    },
    createdAt: CREATED,
    updatedAt: CREATED,
    correlationId: 'corr-1',
    ...(over.deletionRequestedAt ? { deletionRequestedAt: over.deletionRequestedAt } : {}),
  });
}

const initializedWorld = (over: { deletionRequestedAt?: string } = {}) =>
  worldDoc({ ...over, status: { phase: 'Ready', ready: true, cellsActive: 2, initializedAt: CREATED } });

function cellDoc(id: 'r0c0' | 'r0c1', over: Partial<CellDoc> = {}): CellDoc {
  const boundary = initialCells(worldDoc().spec).find((c) => c.id === id)!.boundary;
  return CellDocSchema.parse({
    id,
    world: 'world-a',
    boundary,
    state: 'Pending',
    incarnation: 1,
    startRequestedAt: CREATED,
    load: { sessions: 0, cpuMillis: 0, memoryMiB: 0, window: [] },
    createdAt: CREATED,
    updatedAt: CREATED,
    correlationId: 'corr-1',
    ...over,
  });
}

const readyCell = (id: 'r0c0' | 'r0c1', over: Partial<CellDoc> = {}) =>
  cellDoc(id, { state: 'Ready', endpoint: `${id}:7000`, readyAt: CREATED, ...over });

function report(kind: AgentReportKind, incarnation = 1, over: Partial<AgentReport> = {}): AgentReport {
  return AgentReportSchema.parse({
    agentId: 'agent-1',
    kind,
    world: 'world-a',
    cell: 'r0c0',
    incarnation,
    at: ISO,
    correlationId: 'corr-1',
    ...(kind === 'ready' ? { endpoint: '10.0.0.1:7000' } : {}),
    ...(kind === 'exited' ? { exitCode: 1, reason: 'crashed' } : {}),
    ...over,
  });
}

const eventTypes = (plan: Pick<WorldPlan, 'events'>) => plan.events.map((e) => e.type);

describe('planWorld: creating a world', () => {
  const plan = planWorld(worldDoc(), [], NOW);

  it('creates every initial cell Pending at incarnation 1 and starts it', () => {
    expect(plan.writeCells.map((c) => [c.id, c.state, c.incarnation, c.startRequestedAt])).toEqual([
      ['r0c0', 'Pending', 1, ISO],
      ['r0c1', 'Pending', 1, ISO],
    ]);
    for (const c of plan.writeCells) expect(CellDocSchema.parse(c)).toEqual(c);
    expect(plan.writeCells.every((c) => c.correlationId === 'corr-1')).toBe(true);
    expect(plan.start).toEqual(
      initialCells(worldDoc().spec).map((c) => ({ cell: c.id, incarnation: 1, boundary: c.boundary })),
    );
    expect(plan.stop).toEqual([]);
    expect(plan.finalizeDelete).toBe(false);
  });

  it('emits one CellCreated per cell and reports Initializing', () => {
    expect(plan.events.map((e) => [e.type, e.cells])).toEqual([
      ['CellCreated', ['r0c0']],
      ['CellCreated', ['r0c1']],
    ]);
    expect(plan.status).toMatchObject({ phase: 'Initializing', ready: false, cellsActive: 2, observedGeneration: 1 });
    expect(plan.status?.initializedAt).toBeUndefined();
    expect(plan.status?.conditions).toEqual([
      {
        type: 'Ready',
        status: 'False',
        reason: 'CellsStarting',
        message: 'waiting for cells to become Ready',
        lastTransitionTime: ISO,
      },
    ]);
  });

  it('creates only the initial cells that are missing', () => {
    const p = planWorld(worldDoc(), [cellDoc('r0c0', { startRequestedAt: ISO })], NOW);
    expect(p.writeCells.map((c) => c.id)).toEqual(['r0c1']);
    expect(p.start.map((s) => s.cell)).toEqual(['r0c1']);
    expect(eventTypes(p)).toEqual(['CellCreated']);
  });
});

describe('planWorld: becoming Ready', () => {
  const cells = [readyCell('r0c0'), readyCell('r0c1')];
  const first = planWorld(worldDoc(), cells, NOW);

  it('emits WorldInitialized once every cell is Ready, and marks the world Ready', () => {
    expect(eventTypes(first)).toEqual(['WorldInitialized']);
    expect(first.events[0]).toMatchObject({ cells: ['r0c0', 'r0c1'], data: { seconds: 60 } });
    expect(first.status).toMatchObject({ phase: 'Ready', ready: true, cellsActive: 2, initializedAt: ISO });
    expect(first.status?.conditions[0]).toMatchObject({
      status: 'True',
      reason: 'AllCellsReady',
      message: 'every live cell is Ready',
    });
    expect(first.writeCells).toEqual([]);
    expect(first.start).toEqual([]);
  });

  it('is idempotent: planning the stored result again emits nothing and leaves the status unchanged', () => {
    const stored = WorldDocSchema.parse({ ...worldDoc(), status: first.status });
    const again = planWorld(stored, cells, later(30_000));
    expect(again.events).toEqual([]);
    expect(again.status).toBeUndefined();
    expect(again.writeCells).toEqual([]);
    expect(again.start).toEqual([]);
  });

  it('does not re-create a missing initial cell once the world was initialized', () => {
    const p = planWorld(initializedWorld(), [readyCell('r0c0')], NOW);
    expect(eventTypes(p)).toEqual([]);
    expect(p.writeCells).toEqual([]);
    expect(p.start).toEqual([]);
  });
});

describe('planWorld: resending starts', () => {
  it.each<[string, string | null, number, boolean]>([
    ['just requested', ISO, 5000, false],
    ['requested 4999 ms ago', ago(4999), 5000, false],
    ['requested exactly resendAfterMs ago', ago(5000), 5000, true],
    ['requested a minute ago', ago(60_000), 5000, true],
    ['never requested', null, 5000, true],
    ['requested 1500 ms ago with resendAfterMs 1000', ago(1500), 1000, true],
  ])('a Pending cell %s → resent: %s', (_name, startRequestedAt, resendAfterMs, resent) => {
    const pending = cellDoc('r0c0', { startRequestedAt, incarnation: 2 });
    const p = planWorld(worldDoc(), [pending, readyCell('r0c1')], NOW, { resendAfterMs });
    if (resent) {
      expect(p.start).toEqual([{ cell: 'r0c0', incarnation: 2, boundary: pending.boundary }]);
      expect(p.writeCells).toEqual([{ ...pending, startRequestedAt: ISO, updatedAt: ISO }]);
    } else {
      expect(p.start).toEqual([]);
      expect(p.writeCells).toEqual([]);
    }
    expect(p.events).toEqual([]);
  });
});

describe('planWorld: self-healing', () => {
  it('restarts a Failed cell with the next incarnation and reports the world Degraded', () => {
    const failed = cellDoc('r0c0', { state: 'Failed', incarnation: 3, readyAt: CREATED, exitReason: 'crashed' });
    const p = planWorld(initializedWorld(), [failed, readyCell('r0c1')], NOW);
    expect(p.start).toEqual([{ cell: 'r0c0', incarnation: 4, boundary: failed.boundary }]);
    expect(p.writeCells).toEqual([
      {
        ...failed,
        state: 'Pending',
        incarnation: 4,
        endpoint: null,
        readyAt: null,
        startRequestedAt: ISO,
        updatedAt: ISO,
      },
    ]);
    expect(p.status).toMatchObject({ phase: 'Degraded', ready: false, cellsActive: 2, initializedAt: CREATED });
    expect(p.status?.conditions[0]).toMatchObject({
      status: 'False',
      reason: 'CellsNotReady',
      message: 'waiting for cells to become Ready',
    });
    expect(eventTypes(p)).toEqual([]);
  });
});

describe('planWorld: deleting', () => {
  const deleting = () => initializedWorld({ deletionRequestedAt: ISO });

  it('stops every live cell, marks it Draining and does not finalize yet', () => {
    const cells = [readyCell('r0c0', { incarnation: 2 }), cellDoc('r0c1')];
    const p = planWorld(deleting(), cells, NOW);
    expect(p.stop).toEqual([
      { cell: 'r0c0', incarnation: 2, reason: 'WorldDeleted' },
      { cell: 'r0c1', incarnation: 1, reason: 'WorldDeleted' },
    ]);
    expect(p.writeCells.map((c) => [c.id, c.state, c.stopRequestedAt])).toEqual([
      ['r0c0', 'Draining', ISO],
      ['r0c1', 'Draining', ISO],
    ]);
    expect(p.start).toEqual([]);
    expect(p.finalizeDelete).toBe(false);
    expect(p.status).toMatchObject({ phase: 'Deleting', ready: false, cellsActive: 2 });
  });

  it.each<[string, number, boolean]>([
    ['just now', 0, false],
    ['4999 ms ago', 4999, false],
    ['5000 ms ago', 5000, true],
  ])('re-sends a stop to a cell Draining since %s: %s', (_name, age, resent) => {
    const draining = readyCell('r0c0', { state: 'Draining', stopRequestedAt: ago(age) });
    const p = planWorld(deleting(), [draining, cellDoc('r0c1', { state: 'Terminated' })], NOW);
    expect(p.stop.map((s) => s.cell)).toEqual(resent ? ['r0c0'] : []);
    expect(p.writeCells.map((c) => c.id)).toEqual(resent ? ['r0c0'] : []);
    expect(p.finalizeDelete).toBe(false);
  });

  it('does not restart a Failed cell while deleting', () => {
    const p = planWorld(
      deleting(),
      [cellDoc('r0c0', { state: 'Failed' }), readyCell('r0c1', { state: 'Draining', stopRequestedAt: ISO })],
      NOW,
    );
    expect(p.start).toEqual([]);
    expect(p.writeCells).toEqual([]);
  });

  it.each<[CellState, CellState]>([
    ['Terminated', 'Terminated'],
    ['Terminated', 'Failed'],
    ['Failed', 'Failed'],
  ])('finalizes once every cell is gone (%s, %s)', (a, b) => {
    const p = planWorld(deleting(), [cellDoc('r0c0', { state: a }), cellDoc('r0c1', { state: b })], NOW);
    expect(p.finalizeDelete).toBe(true);
    expect(p.events.map((e) => [e.type, e.cells])).toEqual([['WorldDeleted', ['r0c0', 'r0c1']]]);
    expect(p.stop).toEqual([]);
    expect(p.status).toMatchObject({ phase: 'Deleting', cellsActive: 0 });
  });
});

describe('applyReports: a batch in one pass', () => {
  const handedOff = (operation: string | null, moved = 5) => report('handedOff', 1, { operation, moved });
  it.each<[string, AgentReport[], { changed: string[]; stale: number; r0c0?: Partial<CellDoc> }]>([
    [
      'started then ready: both apply, in order',
      [report('started'), report('ready')],
      {
        changed: ['r0c0'],
        stale: 0,
        r0c0: { state: 'Ready', endpoint: '10.0.0.1:7000' },
      },
    ],
    ['a duplicate in the same batch is stale', [report('ready'), report('ready')], { changed: ['r0c0'], stale: 1 }],
    [
      'ready for r0c1 too',
      [report('ready'), report('ready', 1, { cell: 'r0c1' })],
      { changed: ['r0c0', 'r0c1'], stale: 0 },
    ],
    ['a cell that is gone', [report('ready', 1, { cell: 'r9c9' })], { changed: [], stale: 1 }],
    ['another incarnation', [report('ready', 2)], { changed: [], stale: 1 }],
    [
      'a hand-off is recorded on its source, once',
      [handedOff('op-1'), handedOff('op-1', 7)],
      {
        changed: ['r0c0'],
        stale: 1,
        r0c0: { handoff: { operation: 'op-1', moved: 5 } },
      },
    ],
    ['a hand-off naming no operation is stale', [handedOff(null)], { changed: [], stale: 1 }],
  ])('%s', (_name, reports, want) => {
    const cells = [cellDoc('r0c0'), cellDoc('r0c1')];
    const out = applyReports(cells, reports, NOW);
    expect([...out.changed].sort()).toEqual(want.changed);
    expect(out.stale).toHaveLength(want.stale);
    expect(out.applied).toHaveLength(reports.length - want.stale);
    expect(out.cells.map((c) => c.id)).toEqual(['r0c0', 'r0c1']);
    if (want.r0c0) expect(out.cells[0]).toMatchObject(want.r0c0);
    expect(cells[0]).toMatchObject({ state: 'Pending', handoff: null }); // the input is not changed
  });
});

describe('applyReport', () => {
  type Expected = CellState | 'stale';
  it.each<[CellState, AgentReportKind, Expected]>([
    ['Pending', 'started', 'Pending'],
    ['Pending', 'ready', 'Ready'],
    ['Pending', 'exited', 'Failed'],
    ['Pending', 'stopped', 'stale'],
    ['Ready', 'started', 'stale'],
    ['Ready', 'ready', 'stale'],
    ['Ready', 'exited', 'Failed'],
    ['Ready', 'stopped', 'stale'],
    ['Splitting', 'ready', 'stale'],
    ['Splitting', 'exited', 'Failed'],
    ['Draining', 'started', 'stale'],
    ['Draining', 'ready', 'stale'],
    ['Draining', 'exited', 'Terminated'],
    ['Draining', 'stopped', 'Terminated'],
    ['Terminated', 'started', 'stale'],
    ['Terminated', 'ready', 'stale'],
    ['Terminated', 'exited', 'stale'],
    ['Terminated', 'stopped', 'stale'],
    ['Failed', 'started', 'stale'],
    ['Failed', 'ready', 'stale'],
    ['Failed', 'exited', 'stale'],
    ['Failed', 'stopped', 'Terminated'],
  ])('%s + %s (same incarnation) → %s', (state, kind, expected) => {
    const cell = cellDoc('r0c0', { state, incarnation: 2 });
    const out = applyReport(cell, report(kind, 2), NOW);
    if (expected === 'stale') {
      expect(out).toEqual({ cell: undefined, events: [], stale: true });
    } else {
      expect(out.stale).toBe(false);
      expect(out.cell).toMatchObject({ id: 'r0c0', state: expected, incarnation: 2, updatedAt: ISO });
    }
  });

  it.each(
    CellStateSchema.options.flatMap((state) =>
      (['started', 'ready', 'exited', 'stopped'] as const).flatMap((kind) =>
        [1, 3].map((inc): [CellState, AgentReportKind, number] => [state, kind, inc]),
      ),
    ),
  )('%s + %s from incarnation %i (cell is at 2) is stale', (state, kind, incarnation) => {
    expect(applyReport(cellDoc('r0c0', { state, incarnation: 2 }), report(kind, incarnation), NOW)).toEqual({
      cell: undefined,
      events: [],
      stale: true,
    });
  });

  it.each([
    [1, ['CellReady']],
    [3, ['CellReady', 'CellRecovered']],
  ])('ready at incarnation %i records the endpoint and emits %p', (incarnation, types) => {
    const out = applyReport(cellDoc('r0c0', { incarnation }), report('ready', incarnation), NOW);
    expect(out.cell).toMatchObject({ state: 'Ready', endpoint: '10.0.0.1:7000', readyAt: ISO, lastReportAt: ISO });
    expect(eventTypes(out)).toEqual(types);
    if (incarnation > 1) expect(out.events[1]).toMatchObject({ cells: ['r0c0'], data: { incarnation } });
  });

  it('exited from a live cell is a Warning CellExited; from a Draining cell it is a CellTerminated', () => {
    const crashed = applyReport(readyCell('r0c0'), report('exited'), NOW);
    expect(crashed.cell).toMatchObject({ state: 'Failed', endpoint: null, exitReason: 'crashed' });
    expect(crashed.events).toEqual([expect.objectContaining({ type: 'CellExited', severity: 'Warning' })]);
    const drained = applyReport(readyCell('r0c0', { state: 'Draining' }), report('exited'), NOW);
    expect(drained.cell).toMatchObject({ state: 'Terminated', endpoint: null });
    expect(eventTypes(drained)).toEqual(['CellTerminated']);
  });

  it('stopped clears the endpoint and defaults the exit reason', () => {
    const out = applyReport(readyCell('r0c0', { state: 'Draining' }), report('stopped'), NOW);
    expect(out.cell).toMatchObject({ state: 'Terminated', endpoint: null, exitReason: 'stopped' });
    expect(eventTypes(out)).toEqual(['CellTerminated']);
  });

  it.each<[string, CellDoc, AgentReport[]]>([
    ['a duplicate ready', cellDoc('r0c0'), [report('ready'), report('ready')]],
    ['started after ready', cellDoc('r0c0'), [report('ready'), report('started')]],
    ['ready after stopped', readyCell('r0c0', { state: 'Draining' }), [report('stopped'), report('ready')]],
    ['a duplicate stopped', readyCell('r0c0', { state: 'Draining' }), [report('stopped'), report('stopped')]],
    ['a duplicate exited', readyCell('r0c0'), [report('exited'), report('exited')]],
  ])('%s is stale the second time', (_name, cell, [first, second]) => {
    const after = applyReport(cell, first!, NOW);
    expect(after.stale).toBe(false);
    expect(applyReport(after.cell!, second!, later(1000))).toEqual({ cell: undefined, events: [], stale: true });
  });

  it('never leaves Terminated, never yields an invalid cell, for any shuffled, duplicated report sequence', () => {
    const kinds = ['started', 'ready', 'exited', 'stopped'] as const;
    const reportArb = fc
      .record({ kind: fc.constantFrom(...kinds), incarnation: fc.integer({ min: 1, max: 3 }) })
      .map(({ kind, incarnation }) => report(kind, incarnation));
    fc.assert(
      fc.property(
        fc.constantFrom(...CellStateSchema.options),
        fc.integer({ min: 1, max: 3 }),
        fc.array(reportArb, { maxLength: 30 }),
        (state, incarnation, reports) => {
          let cell = cellDoc('r0c0', { state, incarnation });
          let terminated = state === 'Terminated';
          reports.forEach((r, i) => {
            const out = applyReport(cell, r, later(i * 1000));
            // Terminated is absorbing: nothing moves it back (to Ready or anywhere).
            if (terminated) expect(out.stale).toBe(true);
            if (out.stale) {
              expect(out.cell).toBeUndefined();
              expect(out.events).toEqual([]);
              return;
            }
            expect(out.cell).toBeDefined();
            cell = out.cell!;
            expect(CellStateSchema.options).toContain(cell.state);
            expect(CellDocSchema.parse(cell)).toEqual(cell);
            expect(cell.incarnation).toBe(incarnation);
            terminated ||= cell.state === 'Terminated';
          });
        },
      ),
    );
  });
});

describe('planWorld: start-up is quiet', () => {
  it('plans nothing while cells come up one by one (no status write per ready cell)', () => {
    const starting = planWorld(
      worldDoc(),
      [cellDoc('r0c0', { startRequestedAt: ISO }), cellDoc('r0c1', { startRequestedAt: ISO })],
      NOW,
    );
    const stored = WorldDocSchema.parse({ ...worldDoc(), status: starting.status });
    const oneReady = planWorld(stored, [readyCell('r0c0'), cellDoc('r0c1', { startRequestedAt: ISO })], NOW);
    expect(oneReady.status).toBeUndefined();
    expect(oneReady.events).toEqual([]);
  });
});

describe('planWorld: silence is not death', () => {
  const at = (msAgo: number) => new Date(NOW.getTime() - msAgo).toISOString();
  const degraded = (p: WorldPlan) => p.status?.conditions.find((c) => c.type === 'Degraded');

  it.each([
    // label, last cell report, last agent heartbeat, Degraded?, reason
    ['everything fresh', at(1000), at(2000), 'False', 'ReportsFresh'],
    ['a cell silent 16 s (ingestMetrics paused)', at(16_000), at(2000), 'True', 'CellReportsStale'],
    ['the agent silent 16 s (agent paused)', at(1000), at(16_000), 'True', 'AgentSilent'],
    ['no agent heartbeat ever recorded', at(1000), null, 'True', 'AgentSilent'],
    ['everything silent 120 s (Pub/Sub paused)', at(120_000), at(120_000), 'True', 'AgentSilent'],
  ] as const)('%s: Degraded=%s (%s), and no cell is restarted', (_label, lastReportAt, agentSeenAt, status, reason) => {
    const p = planWorld(
      initializedWorld(),
      [readyCell('r0c0', { lastReportAt }), readyCell('r0c1', { lastReportAt: at(1000) })],
      NOW,
      { resendAfterMs: 5000, staleAfterMs: 15_000, agentSeenAt },
    );
    expect(p.start).toEqual([]);
    expect(p.stop).toEqual([]);
    expect(p.writeCells).toEqual([]);
    expect(eventTypes(p)).toEqual([]);
    expect(degraded(p)).toMatchObject({ status, reason });
    expect(p.status?.phase).toBe(status === 'True' ? 'Degraded' : 'Ready');
    expect(p.status?.ready).toBe(true);
  });

  it('names the silent cells, and says cells are left running', () => {
    const p = planWorld(
      initializedWorld(),
      [readyCell('r0c0', { lastReportAt: at(30_000) }), readyCell('r0c1', { lastReportAt: at(20_000) })],
      NOW,
      { resendAfterMs: 5000, staleAfterMs: 15_000, agentSeenAt: at(1000) },
    );
    expect(degraded(p)?.message).toMatch(/2 serving cell\(s\).*r0c0, r0c1.*cells are left running/);
  });

  it('is off unless asked for: no Degraded condition at all', () => {
    const p = planWorld(initializedWorld(), [readyCell('r0c0', { lastReportAt: at(60_000) }), readyCell('r0c1')], NOW);
    expect(p.start).toEqual([]);
    expect(p.status?.conditions.map((c) => c.type) ?? []).not.toContain('Degraded');
  });

  it('property: whatever the silence, a serving cell is never restarted nor stopped', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 600_000 }), { minLength: 2, maxLength: 2 }),
        fc.option(fc.integer({ min: 0, max: 600_000 }), { nil: null }),
        fc.integer({ min: 1, max: 120_000 }),
        ([a, b], agentAgo, staleAfterMs) => {
          const p = planWorld(
            initializedWorld(),
            [readyCell('r0c0', { lastReportAt: at(a!) }), readyCell('r0c1', { lastReportAt: at(b!) })],
            NOW,
            { resendAfterMs: 5000, staleAfterMs, agentSeenAt: agentAgo === null ? null : at(agentAgo) },
          );
          return p.start.length === 0 && p.stop.length === 0 && p.writeCells.length === 0;
        },
      ),
    );
  });
});
