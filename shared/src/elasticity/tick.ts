import { decideScaling, type Scaling, type ScalingDecision } from './scaling';
import type { CellDoc, WorldDoc, WorldStatus } from '../world/model';
import { warmWaitMs } from '../world/world';
import type { PlannedEvent } from '../world/events';
import { advanceOperation, beginMerge, beginSplit, newOpContext, type HandoffCommand } from './operations-plan';
import { isActiveOperation, type OperationDoc } from './operations';
import { computeStatus, healthCheck, isDegraded, planWorld, type StartCommand, type StopCommand } from './reconcile';

/** Everything one reconcile of a world looks at. */
export interface WorldState {
  world: WorldDoc;
  cells: CellDoc[];
  /** Active operations and those finished recently (rate limits and cool-downs look back). */
  operations: OperationDoc[];
  /** Live config: scaling keys overriding the world spec (`ffctl config set`). */
  overrides: Partial<Scaling>;
  /** When an agent heartbeat was last recorded (null: never; absent: not checked). */
  agentSeenAt?: string | null;
  /**
   * The agents' warm pools at their last heartbeats: idle ready cells, counted at `at` (the
   * agents' clock; the oldest such heartbeat). Absent: no agent keeps a pool.
   */
  agentWarm?: AgentWarm;
}

export interface AgentWarm {
  warm: number;
  at: string;
}

/**
 * The warm cells still free for new cells: the heartbeat's count less the cells of this
 * world started since it was counted. Refills since then are not known, so this errs low;
 * so are other worlds' starts, so with worlds sharing a pool it can err high (a child then starts cold).
 */
export function warmAvailable(agentWarm: AgentWarm, cells: Iterable<CellDoc>): number {
  const at = Date.parse(agentWarm.at);
  let taken = 0;
  for (const c of cells) if (c.startRequestedAt !== null && Date.parse(c.startRequestedAt) > at) taken++;
  return Math.max(0, agentWarm.warm - taken);
}

export interface TickOptions {
  resendAfterMs: number;
  staleAfterMs?: number;
  stepTimeoutMs: number;
  newId: (prefix: string) => string;
}

/** What one reconcile changes; the caller writes it in one transaction, then sends the commands. */
export interface TickPlan {
  /** Cell docs to create. */
  createCells: CellDoc[];
  /** Cell docs to update (control fields). */
  updateCells: CellDoc[];
  operations: OperationDoc[];
  status: WorldStatus | undefined;
  events: PlannedEvent[];
  start: StartCommand[];
  stop: StopCommand[];
  handoff: HandoffCommand[];
  finalizeDelete: boolean;
  durations: Array<{ kind: 'split' | 'merge'; seconds: number }>;
  decisions: ScalingDecision[];
}

/** The scaling config in force: the world's spec with the live overrides on top. */
export function effectiveScaling(world: WorldDoc, overrides: Partial<Scaling>): Scaling {
  return { ...world.spec.scaling, ...overrides };
}

/** Announce (and count) a blocked attempt again only after this long. */
const BLOCK_REPEAT_MS = 30_000;

/** Limits on how fast splits go (counted as rate-limit hits), as opposed to whether one may happen. */
const isThrottle = (why: string): boolean =>
  why.startsWith('RateLimit') || why === 'ConcurrencyLimit' || why === 'WarmCapacity';

/**
 * One level-based pass over a world: the world-level plan (initial cells, resends,
 * recovery, deletion), then every active operation, then new split/merge decisions.
 * Pure: time and ids come in; the result says what to write and send.
 */
export function planTick(state: WorldState, now: Date, opts: TickOptions): TickPlan {
  // Cells an operation is retiring must not be restarted: sources past the routing
  // switch (their region is the targets' now) and targets being rolled back.
  const retired = new Set(
    state.operations.flatMap((o) =>
      o.state === 'HandingOff' || o.state === 'Draining'
        ? o.sources
        : o.state === 'RollingBack'
          ? o.targets.map((t) => t.id)
          : [],
    ),
  );
  const health = {
    ...(opts.staleAfterMs !== undefined ? { staleAfterMs: opts.staleAfterMs } : {}),
    ...(state.agentSeenAt !== undefined ? { agentSeenAt: state.agentSeenAt } : {}),
  };
  const base = planWorld(state.world, state.cells, now, { resendAfterMs: opts.resendAfterMs, retired, ...health });
  const empty: TickPlan = {
    createCells: [],
    updateCells: [],
    operations: [],
    status: base.status,
    events: base.events,
    start: base.start,
    stop: base.stop,
    handoff: [],
    finalizeDelete: base.finalizeDelete,
    durations: [],
    decisions: [],
  };
  const existing = new Set(state.cells.map((c) => c.id));
  if (state.world.deletionRequestedAt) {
    for (const c of base.writeCells) (existing.has(c.id) ? empty.updateCells : empty.createCells).push(c);
    return empty;
  }

  const merged = new Map(state.cells.map((c) => [c.id, c]));
  for (const c of base.writeCells) merged.set(c.id, c);
  const world: WorldDoc = { ...state.world, status: base.status ?? state.world.status };
  const ctx = newOpContext(world, [...merged.values()], now, opts.stepTimeoutMs);
  for (const c of base.writeCells) ctx.changed.add(c.id);
  ctx.start.push(...base.start);
  ctx.stop.push(...base.stop);
  ctx.events.push(...base.events);

  const ops = new Map(state.operations.map((o) => [o.id, o]));
  const changedOps = new Set<string>();
  for (const op of state.operations.filter(isActiveOperation)) {
    const next = advanceOperation(ctx, op);
    if (next !== op) {
      ops.set(op.id, next);
      changedOps.add(op.id);
    }
  }

  let decisions: ScalingDecision[] = [];
  // Load windows are stale while the report path is stalled: no decision is made on them.
  const degraded = isDegraded(computeStatus(ctx.world.status, [...ctx.cells.values()], now, healthCheck(health)));
  if (ctx.world.status.initializedAt && !degraded) {
    const scaling = effectiveScaling(state.world, state.overrides);
    const cells = [...ctx.cells.values()];
    const waitMs = warmWaitMs(state.world.spec);
    decisions = decideScaling({
      scaling,
      capacity: state.world.spec.capacity,
      cells,
      operations: [...ops.values()],
      now,
      ...(state.agentWarm && waitMs > 0 ? { warm: { available: warmAvailable(state.agentWarm, cells), waitMs } } : {}),
    });
    for (const d of decisions) {
      const common = {
        id: opts.newId('op'),
        cause: 'Threshold' as const,
        reason: d.reason,
        principal: 'system:reconcileWorld',
        correlationId: opts.newId('corr'),
        readinessTimeoutSeconds: scaling.readinessTimeoutSeconds,
      };
      if (d.kind === 'split') {
        const op = beginSplit(ctx, d.cell, d.children, common);
        ops.set(op.id, op);
        changedOps.add(op.id);
      } else if (d.kind === 'merge') {
        const op = beginMerge(ctx, d.cells, d.parent, common);
        ops.set(op.id, op);
        changedOps.add(op.id);
      } else {
        recordBlocked(ctx, d, now);
      }
    }
  }

  const status = computeStatus(ctx.world.status, [...ctx.cells.values()], now, healthCheck(health));
  announceHealth(ctx.events, state.world.status, status);
  const plan: TickPlan = {
    ...empty,
    operations: [...changedOps].map((id) => ops.get(id)!),
    status: JSON.stringify(status) === JSON.stringify(state.world.status) ? undefined : status,
    events: ctx.events,
    // A cell stopped in this pass (a rollback, say) must not also be (re)started by it.
    start: ctx.start.filter((s) => !ctx.stop.some((t) => t.cell === s.cell)),
    stop: ctx.stop,
    handoff: ctx.handoff,
    durations: ctx.durations,
    decisions,
  };
  for (const id of ctx.changed) {
    const c = ctx.cells.get(id)!;
    (existing.has(id) ? plan.updateCells : plan.createCells).push(c);
  }
  return plan;
}

/** A WorldDegraded or WorldHealthy event when the Degraded condition flips. */
function announceHealth(events: PlannedEvent[], before: WorldStatus, after: WorldStatus): void {
  const was = isDegraded(before);
  const is = isDegraded(after);
  if (was === is) return;
  const c = after.conditions.find((k) => k.type === 'Degraded')!;
  events.push(
    is
      ? { type: 'WorldDegraded', severity: 'Warning', cells: [], reason: c.reason, message: c.message }
      : {
          type: 'WorldHealthy',
          cells: [],
          reason: c.reason,
          message: 'reports resumed; no cell was replaced for silence',
        },
  );
}

function recordBlocked(
  ctx: ReturnType<typeof newOpContext>,
  d: Extract<ScalingDecision, { kind: 'blocked' }>,
  now: Date,
): void {
  const first = ctx.cells.get(d.cells[0]!);
  if (!first) return;
  const last = first.blocked;
  if (last && last.why === d.why && now.getTime() - new Date(last.at).getTime() < BLOCK_REPEAT_MS) return;
  ctx.cells.set(first.id, { ...first, blocked: { why: d.why, at: now.toISOString() }, updatedAt: now.toISOString() });
  ctx.changed.add(first.id);
  const stats = ctx.world.status.stats;
  const split = d.action === 'split';
  ctx.world.status = {
    ...ctx.world.status,
    stats: {
      ...stats,
      splitCooldownBlocks: stats.splitCooldownBlocks + (split && d.why === 'Cooldown' ? 1 : 0),
      splitRateLimitHits: stats.splitRateLimitHits + (split && isThrottle(d.why) ? 1 : 0),
    },
  };
  ctx.events.push({
    type: 'ScalingBlocked',
    severity: 'Warning',
    cells: d.cells,
    reason: d.why,
    message: `${d.action} of ${d.cells.join('+')} not executed: ${d.reason}`,
    data: { action: d.action, why: d.why },
  });
}

/** A plan that writes, sends and records nothing. */
export function isEmptyTick(p: TickPlan): boolean {
  return (
    p.createCells.length === 0 &&
    p.updateCells.length === 0 &&
    p.operations.length === 0 &&
    p.status === undefined &&
    p.events.length === 0 &&
    p.start.length === 0 &&
    p.stop.length === 0 &&
    p.handoff.length === 0 &&
    !p.finalizeDelete
  );
}
