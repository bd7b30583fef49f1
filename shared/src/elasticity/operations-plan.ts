import { isPartition, union, type Rect } from '../world/geometry';
import { emptyLoad, isLiveCell, type CellDoc, type WorldDoc } from '../world/model';
import type { OperationCause, OperationDoc, OperationState } from './operations';
import type { PlannedEvent } from '../world/events';
import type { StartCommand, StopCommand } from './reconcile';

/**
 * Split and merge operations, advanced level by level: each call looks at the
 * operation's state and at what the cells report, and moves it as far as it can.
 * Pure: it edits a working copy (`OpContext`) that the caller persists in one
 * transaction, then publishes the commands it collected.
 */

export interface HandoffCommand {
  operation: string;
  cell: string;
  incarnation: number;
  epoch: number;
  targets: Array<{ cell: string; boundary: Rect; endpoint: string }>;
}

export interface OpContext {
  now: Date;
  /** Working copy: routing epoch and counters change here. */
  world: WorldDoc;
  /** Working copies of every cell doc of the world. */
  cells: Map<string, CellDoc>;
  /** Ids of cells whose doc must be written. */
  changed: Set<string>;
  /** Cells that did not exist before (created, not updated). */
  created: Set<string>;
  start: StartCommand[];
  stop: StopCommand[];
  handoff: HandoffCommand[];
  events: PlannedEvent[];
  /** Finished operations' durations, for the histograms. */
  durations: Array<{ kind: 'split' | 'merge'; seconds: number }>;
  /** How long a hand-off or drain may take before its command is sent again. */
  stepTimeoutMs: number;
}

export function newOpContext(world: WorldDoc, cells: readonly CellDoc[], now: Date, stepTimeoutMs = 10_000): OpContext {
  return {
    now,
    world: structuredClone(world),
    cells: new Map(cells.map((c) => [c.id, structuredClone(c)])),
    changed: new Set(),
    created: new Set(),
    start: [],
    stop: [],
    handoff: [],
    events: [],
    durations: [],
    stepTimeoutMs,
  };
}

const iso = (ctx: OpContext) => ctx.now.toISOString();

function put(ctx: OpContext, cell: CellDoc): void {
  ctx.cells.set(cell.id, { ...cell, updatedAt: iso(ctx) });
  ctx.changed.add(cell.id);
}

function cell(ctx: OpContext, id: string): CellDoc | undefined {
  return ctx.cells.get(id);
}

function enter(ctx: OpContext, op: OperationDoc, state: OperationState): OperationDoc {
  return { ...op, state, updatedAt: iso(ctx), steps: { ...op.steps, [state]: iso(ctx) } };
}

/** Starts (or restarts, with the next incarnation) a cell that serves nothing until its hand-off. */
function startHeldCell(
  ctx: OpContext,
  id: string,
  boundary: Rect,
  parent: string | null,
  lineage: string[],
  correlationId: string,
  neverReady: boolean,
): number {
  const existing = cell(ctx, id);
  const incarnation = (existing?.incarnation ?? 0) + 1;
  const iso_ = iso(ctx);
  const doc: CellDoc = {
    id,
    world: ctx.world.name,
    boundary,
    parent,
    lineage,
    state: 'Pending',
    incarnation,
    endpoint: null,
    startRequestedAt: iso_,
    stopRequestedAt: null,
    readyAt: null,
    lastReportAt: null,
    load: emptyLoad(),
    exitReason: null,
    routable: false,
    holdRouting: true,
    handoff: null,
    blocked: null,
    createdAt: existing?.createdAt ?? iso_,
    updatedAt: iso_,
    correlationId,
  };
  if (!existing) ctx.created.add(id);
  put(ctx, doc);
  ctx.start.push({ cell: id, incarnation, boundary, ...(neverReady ? { neverReady: true } : {}) });
  return incarnation;
}

function stopCell(ctx: OpContext, id: string, reason: string): void {
  const c = cell(ctx, id);
  if (!c || c.state === 'Terminated' || c.state === 'Failed' || c.state === 'Draining') return;
  put(ctx, { ...c, state: 'Draining', routable: false, stopRequestedAt: iso(ctx) });
  ctx.stop.push({ cell: id, incarnation: c.incarnation, reason });
}

export interface BeginOptions {
  id: string;
  cause: OperationCause;
  reason: string;
  principal: string;
  correlationId: string;
  readinessTimeoutSeconds: number;
  testNeverReady?: boolean;
}

function newOp(
  ctx: OpContext,
  o: BeginOptions,
  kind: 'split' | 'merge',
  sources: string[],
  targets: OperationDoc['targets'],
): OperationDoc {
  const t = iso(ctx);
  return {
    id: o.id,
    world: ctx.world.name,
    kind,
    state: 'Planned',
    cause: o.cause,
    reason: o.reason,
    sources,
    targets,
    routingEpoch: null,
    sessionsBefore: sources.reduce((n, s) => n + (cell(ctx, s)?.load.sessions ?? 0), 0),
    sessionsMoved: null,
    handoffs: {},
    testNeverReady: o.testNeverReady ?? false,
    readyDeadline: new Date(ctx.now.getTime() + o.readinessTimeoutSeconds * 1000).toISOString(),
    stepDeadline: null,
    steps: { Planned: t },
    principal: o.principal,
    correlationId: o.correlationId,
    error: null,
    createdAt: t,
    updatedAt: t,
    completedAt: null,
  };
}

/** Plans a split of `parentId` into `children` (which the caller has checked partition it). */
export function beginSplit(ctx: OpContext, parentId: string, children: Rect[], o: BeginOptions): OperationDoc {
  const parent = cell(ctx, parentId);
  if (!parent) throw new Error(`no cell ${parentId}`);
  if (!isPartition(parent.boundary, children)) throw new Error(`children do not partition ${parentId}`);
  const targets = children.map((boundary, i) => ({ id: `${parentId}.${i}`, boundary, incarnation: 1 }));
  return advanceOperation(ctx, newOp(ctx, o, 'split', [parentId], targets));
}

/** Plans a merge of sibling cells back into their parent's region (the parent cell runs again). */
export function beginMerge(ctx: OpContext, siblings: string[], parentId: string, o: BeginOptions): OperationDoc {
  const parent = cell(ctx, parentId);
  if (!parent) throw new Error(`no cell ${parentId}`);
  const boundary = union(siblings.map((s) => cell(ctx, s)!.boundary));
  if (!boundary || JSON.stringify(boundary) !== JSON.stringify(parent.boundary)) {
    throw new Error(`siblings do not tile ${parentId}`);
  }
  return advanceOperation(
    ctx,
    newOp(ctx, o, 'merge', [...siblings].sort(), [{ id: parentId, boundary: parent.boundary, incarnation: 1 }]),
  );
}

/** Moves one operation as far as the observed cell states allow. Idempotent. */
export function advanceOperation(ctx: OpContext, start: OperationDoc): OperationDoc {
  let op = start;
  for (let guard = 0; guard < 10; guard++) {
    const next = step(ctx, op);
    if (next === op) return op;
    op = next;
  }
  return op;
}

function step(ctx: OpContext, op: OperationDoc): OperationDoc {
  const targetCells = () => op.targets.map((t) => cell(ctx, t.id));
  switch (op.state) {
    case 'Planned': {
      const sources = op.sources.map((s) => cell(ctx, s));
      if (sources.some((s) => !s || !isLiveCell(s))) {
        return finish(ctx, { ...op, error: 'a source cell is gone' }, 'RolledBack');
      }
      for (const s of sources) put(ctx, { ...s!, state: op.kind === 'split' ? 'Splitting' : 'Merging', blocked: null });
      const parent = op.kind === 'split' ? sources[0]! : cell(ctx, op.targets[0]!.id)!;
      const targets = op.targets.map((t) => {
        const incarnation =
          op.kind === 'split'
            ? startHeldCell(
                ctx,
                t.id,
                t.boundary,
                parent.id,
                [...parent.lineage, parent.id],
                op.correlationId,
                op.testNeverReady,
              )
            : startHeldCell(ctx, t.id, t.boundary, parent.parent, parent.lineage, op.correlationId, op.testNeverReady);
        return { ...t, incarnation };
      });
      ctx.events.push({
        type: 'OperationStarted',
        cells: [...op.sources, ...op.targets.map((t) => t.id)],
        reason: op.cause,
        message: `${op.kind} ${op.sources.join('+')} → ${op.targets.map((t) => t.id).join('+')}: ${op.reason}`,
        data: { operation: op.id, kind: op.kind },
      });
      return enter(ctx, { ...op, targets }, 'ChildrenStarting');
    }
    case 'ChildrenStarting': {
      const targets = targetCells();
      if (targets.every((t) => t?.state === 'Ready' && t.endpoint)) return enter(ctx, op, 'ChildrenReady');
      if (ctx.now.toISOString() > op.readyDeadline) {
        const waiting = op.targets.filter((t) => cell(ctx, t.id)?.state !== 'Ready').map((t) => t.id);
        return enter(ctx, { ...op, error: `not ready by the deadline: ${waiting.join(', ')}` }, 'RollingBack');
      }
      return op;
    }
    case 'ChildrenReady': {
      const epoch = ctx.world.status.routingEpoch + 1;
      ctx.world.status = { ...ctx.world.status, routingEpoch: epoch };
      const targets = op.targets.map((t) => {
        const c = cell(ctx, t.id)!;
        // The new cells own their regions from this epoch on.
        put(ctx, { ...c, holdRouting: false, routable: true });
        return { cell: t.id, boundary: t.boundary, endpoint: c.endpoint! };
      });
      for (const s of op.sources) {
        const c = cell(ctx, s)!;
        put(ctx, { ...c, routable: false });
        ctx.handoff.push({ operation: op.id, cell: s, incarnation: c.incarnation, epoch, targets });
      }
      return enter(ctx, { ...op, routingEpoch: epoch, stepDeadline: deadline(ctx) }, 'HandingOff');
    }
    case 'HandingOff': {
      // A source's report is on its cell (or, recorded directly, on the operation).
      const reported = (s: string): number | undefined => {
        const c = cell(ctx, s);
        const h = c?.handoff;
        if (op.handoffs[s] !== undefined) return op.handoffs[s];
        if (h?.operation === op.id) return h.moved;
        // A source that died before handing off has nothing left to hand over (its sessions died with it).
        if (!c || c.state === 'Failed' || c.state === 'Terminated') return 0;
        return undefined;
      };
      if (op.sources.every((s) => reported(s) !== undefined)) {
        const handoffs = Object.fromEntries(op.sources.map((s) => [s, reported(s)!]));
        const moved = op.sources.reduce((n, s) => n + handoffs[s]!, 0);
        // Routing has switched and the targets hold every session: the operation is done.
        // Stopping the sources is cleanup, off the critical path: they stay Draining (not
        // routable, still kept) until the agent reports them stopped, and the reconciler
        // re-sends the stop until then. A source that crashed meanwhile is retired, never
        // restarted over the targets' region.
        for (const s of op.sources) {
          const c = cell(ctx, s);
          if (c?.state === 'Failed') put(ctx, { ...c, state: 'Terminated', routable: false });
          else stopCell(ctx, s, `${op.kind} ${op.id} handed off`);
        }
        return complete(ctx, { ...op, handoffs, sessionsMoved: moved });
      }
      if (op.stepDeadline && ctx.now.toISOString() > op.stepDeadline) {
        // Hand-off is idempotent: ask the sources that have not answered again.
        const targets = op.targets.map((t) => ({
          cell: t.id,
          boundary: t.boundary,
          endpoint: cell(ctx, t.id)?.endpoint ?? '',
        }));
        for (const s of op.sources.filter((s) => reported(s) === undefined)) {
          const c = cell(ctx, s);
          if (c)
            ctx.handoff.push({
              operation: op.id,
              cell: s,
              incarnation: c.incarnation,
              epoch: op.routingEpoch!,
              targets,
            });
        }
        return { ...op, stepDeadline: deadline(ctx), updatedAt: iso(ctx) };
      }
      return op;
    }
    case 'Draining':
      // Operations from before drains left the critical path: their sources are already stopping.
      return complete(ctx, op);
    case 'RollingBack': {
      for (const t of op.targets) stopCell(ctx, t.id, `${op.kind} ${op.id} rolled back`);
      const stopped = op.targets.every((t) => {
        const c = cell(ctx, t.id);
        return !c || c.state === 'Terminated' || c.state === 'Failed';
      });
      // The sources keep serving: back to Ready as soon as the rollback starts.
      for (const s of op.sources) {
        const c = cell(ctx, s);
        if (c && (c.state === 'Splitting' || c.state === 'Merging')) put(ctx, { ...c, state: 'Ready', routable: true });
      }
      if (!stopped) return op;
      // Targets that crashed are done as well: they must not be restarted over the sources' region.
      for (const t of op.targets) {
        const c = cell(ctx, t.id);
        if (c?.state === 'Failed') put(ctx, { ...c, state: 'Terminated', routable: false });
      }
      const stats = ctx.world.status.stats;
      ctx.world.status = { ...ctx.world.status, stats: { ...stats, rollbacks: stats.rollbacks + 1 } };
      ctx.events.push({
        type: 'SplitRollback',
        severity: 'Warning',
        cells: [...op.sources, ...op.targets.map((t) => t.id)],
        reason: 'ReadinessTimeout',
        message: `${op.kind} ${op.id} rolled back: ${op.error ?? 'unknown cause'}`,
        data: { operation: op.id, kind: op.kind, cause: op.error },
      });
      return finish(ctx, op, 'RolledBack');
    }
    case 'Completed':
    case 'RolledBack':
      return op;
  }
}

/** Records a finished hand-off: stats, the CellSplit/CellMerge event, Completed. */
function complete(ctx: OpContext, op: OperationDoc): OperationDoc {
  const seconds = (ctx.now.getTime() - new Date(op.createdAt).getTime()) / 1000;
  ctx.durations.push({ kind: op.kind, seconds });
  const stats = ctx.world.status.stats;
  ctx.world.status = {
    ...ctx.world.status,
    stats: {
      ...stats,
      splits: stats.splits + (op.kind === 'split' ? 1 : 0),
      merges: stats.merges + (op.kind === 'merge' ? 1 : 0),
      sessionsReassigned: stats.sessionsReassigned + (op.sessionsMoved ?? 0),
    },
  };
  const ids = op.targets.map((t) => t.id);
  ctx.events.push(
    op.kind === 'split'
      ? {
          type: 'CellSplit',
          cells: [op.sources[0]!, ...ids],
          reason: op.cause,
          message: `${op.sources[0]} split into ${ids.join(', ')}; ${op.sessionsMoved ?? 0} sessions handed over in ${seconds.toFixed(2)}s`,
          data: {
            operation: op.id,
            parent: op.sources[0],
            children: ids,
            sessionsMoved: op.sessionsMoved,
            seconds,
          },
        }
      : {
          type: 'CellMerge',
          cells: [...op.sources, ...ids],
          reason: op.cause,
          message: `${op.sources.join(', ')} merged into ${ids[0]}; ${op.sessionsMoved ?? 0} sessions handed over in ${seconds.toFixed(2)}s`,
          data: {
            operation: op.id,
            parent: ids[0],
            boundary: op.targets[0]!.boundary,
            siblings: op.sources,
            sessionsMoved: op.sessionsMoved,
            seconds,
          },
        },
  );
  return finish(ctx, op, 'Completed');
}

function deadline(ctx: OpContext): string {
  return new Date(ctx.now.getTime() + ctx.stepTimeoutMs).toISOString();
}

function finish(ctx: OpContext, op: OperationDoc, state: 'Completed' | 'RolledBack'): OperationDoc {
  return { ...enter(ctx, op, state), completedAt: iso(ctx), stepDeadline: null };
}

/** Records a source's hand-off report on its operation. Returns undefined when it changes nothing (duplicate, late). */
export function recordHandoff(op: OperationDoc, source: string, moved: number, now: Date): OperationDoc | undefined {
  if (op.state !== 'HandingOff' || !op.sources.includes(source) || op.handoffs[source] !== undefined) return undefined;
  return { ...op, handoffs: { ...op.handoffs, [source]: moved }, updatedAt: now.toISOString() };
}
