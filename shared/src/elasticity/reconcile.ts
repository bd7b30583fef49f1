import type { PlannedEvent } from '../world/events';
import type { Rect } from '../world/geometry';
import { emptyLoad, isLiveCell, type CellDoc, type WorldDoc, type WorldStatus } from '../world/model';
import type { AgentReport } from '../ports/messages';
import { initialCells } from '../world/world';

/**
 * The world reconciler's policy, pure: given what the world should be and what
 * its cells report, say what to do. Time comes in as `now`; nothing here does I/O.
 */

export interface ReconcileOptions {
  /** A start or stop not acknowledged after this long is sent again. */
  resendAfterMs: number;
  /**
   * A serving cell with no report (load sample or agent report) for this long, or an agent
   * with no heartbeat for this long, makes the world Degraded. Silence never restarts a
   * cell: only positive evidence does (the agent saw it exit, killed it after failed
   * probes, or does not run it). 0 or absent disables the check.
   */
  staleAfterMs?: number;
  /**
   * When the control plane last recorded an agent heartbeat: null when none ever was,
   * undefined when not known (that part of the check is skipped).
   */
  agentSeenAt?: string | null;
  /** Cells whose region already belongs to others (sources of an operation past its routing switch): never restarted. */
  retired?: ReadonlySet<string>;
}

export const DEFAULT_RECONCILE_OPTIONS: ReconcileOptions = { resendAfterMs: 5000 };

/** What the control plane checks about the report path: never a reason to replace a cell. */
export interface Health {
  staleAfterMs: number;
  agentSeenAt?: string | null;
}

export interface HealthAssessment {
  degraded: boolean;
  reason: 'ReportsFresh' | 'AgentSilent' | 'CellReportsStale';
  message: string;
  /** Serving cells whose last report is older than the threshold, sorted. */
  silentCells: string[];
}

/** Serving cells (the agent reported them ready) whose last sign of life is older than `staleAfterMs`. */
export function silentCells(cells: readonly CellDoc[], now: Date, staleAfterMs: number): string[] {
  if (!staleAfterMs) return [];
  return cells
    .filter((c) => c.state === 'Ready' || c.state === 'Splitting' || c.state === 'Merging')
    .filter((c) => {
      const last = c.lastReportAt ?? c.readyAt;
      return last !== null && now.getTime() - new Date(last).getTime() > staleAfterMs;
    })
    .map((c) => c.id)
    .sort();
}

/**
 * Tells "silent" apart from "dead": an agent without heartbeats, or cells without
 * reports, mean the report path (agent, a function, Pub/Sub) is stalled. The world is
 * Degraded and says which; its cells are left exactly as they are.
 */
export function assessHealth(cells: readonly CellDoc[], now: Date, health: Health): HealthAssessment {
  const silent = silentCells(cells, now, health.staleAfterMs);
  const secs = Math.round(health.staleAfterMs / 1000);
  const agentSilent =
    health.agentSeenAt !== undefined &&
    cells.some(isLiveCell) &&
    (health.agentSeenAt === null || now.getTime() - new Date(health.agentSeenAt).getTime() > health.staleAfterMs);
  if (agentSilent) {
    return {
      degraded: true,
      reason: 'AgentSilent',
      message: `no agent heartbeat recorded for more than ${secs}s: the agent, onAgentReport or Pub/Sub is stalled; cells are left running`,
      silentCells: silent,
    };
  }
  if (silent.length > 0) {
    const named = silent.slice(0, 8).join(', ') + (silent.length > 8 ? `, +${silent.length - 8} more` : '');
    return {
      degraded: true,
      reason: 'CellReportsStale',
      message: `${silent.length} serving cell(s) have not reported for more than ${secs}s (${named}): the agent, ingestMetrics or Pub/Sub is stalled; cells are left running`,
      silentCells: silent,
    };
  }
  return {
    degraded: false,
    reason: 'ReportsFresh',
    message: 'agent heartbeats and cell reports are fresh',
    silentCells: [],
  };
}

/**
 * The cells the agent should be running: those it reported ready and that were not
 * asked to stop. Sent as a `sync` command; the agent answers for each one it does not run.
 */
export function servingCells(cells: readonly CellDoc[]): Array<{ cell: string; incarnation: number }> {
  return cells
    .filter((c) => c.state === 'Ready' || c.state === 'Splitting' || c.state === 'Merging')
    .map((c) => ({ cell: c.id, incarnation: c.incarnation }))
    .sort((a, b) => (a.cell < b.cell ? -1 : a.cell > b.cell ? 1 : 0));
}

/** Every incarnation the control plane still wants running: anything short of Terminated or Failed. */
export function keptCells(cells: readonly CellDoc[]): Array<{ cell: string; incarnation: number }> {
  return cells
    .filter((c) => c.state !== 'Terminated' && c.state !== 'Failed')
    .map((c) => ({ cell: c.id, incarnation: c.incarnation }))
    .sort((a, b) => (a.cell < b.cell ? -1 : a.cell > b.cell ? 1 : 0));
}

/** The health check these options ask for, if any. */
export function healthCheck(opts: Pick<ReconcileOptions, 'staleAfterMs' | 'agentSeenAt'>): Health | undefined {
  if (!opts.staleAfterMs) return undefined;
  return {
    staleAfterMs: opts.staleAfterMs,
    ...(opts.agentSeenAt !== undefined ? { agentSeenAt: opts.agentSeenAt } : {}),
  };
}

export interface StartCommand {
  cell: string;
  incarnation: number;
  boundary: Rect;
  /** Test switch for rollback drills. */
  neverReady?: boolean;
}

export interface StopCommand {
  cell: string;
  incarnation: number;
  reason: string;
}

export interface WorldPlan {
  /** Cell documents to create or replace (new cells, restarts, resend timestamps). */
  writeCells: CellDoc[];
  start: StartCommand[];
  stop: StopCommand[];
  /** The world status to store, or undefined when it is unchanged. */
  status: WorldStatus | undefined;
  events: PlannedEvent[];
  /** Every cell is gone after a delete: remove the world and its cell docs. */
  finalizeDelete: boolean;
}

function due(requestedAt: string | null, now: Date, afterMs: number): boolean {
  return requestedAt === null || now.getTime() - new Date(requestedAt).getTime() >= afterMs;
}

function statusEquals(a: WorldStatus, b: WorldStatus): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function planWorld(
  world: WorldDoc,
  cells: readonly CellDoc[],
  now: Date,
  opts: ReconcileOptions = DEFAULT_RECONCILE_OPTIONS,
): WorldPlan {
  const iso = now.toISOString();
  const plan: WorldPlan = { writeCells: [], start: [], stop: [], status: undefined, events: [], finalizeDelete: false };
  const byId = new Map(cells.map((c) => [c.id, c]));

  if (world.deletionRequestedAt) {
    const remaining = cells.filter((c) => c.state !== 'Terminated' && c.state !== 'Failed');
    for (const c of remaining) {
      if (due(c.stopRequestedAt, now, opts.resendAfterMs)) {
        plan.stop.push({ cell: c.id, incarnation: c.incarnation, reason: 'WorldDeleted' });
        plan.writeCells.push({ ...c, state: 'Draining', stopRequestedAt: iso, updatedAt: iso });
      }
    }
    if (remaining.length === 0) {
      plan.finalizeDelete = true;
      plan.events.push({
        type: 'WorldDeleted',
        cells: cells.map((c) => c.id),
        reason: 'Deleted',
        message: 'every cell stopped',
      });
    }
    const status: WorldStatus = { ...world.status, phase: 'Deleting', ready: false, cellsActive: remaining.length };
    if (!statusEquals(status, world.status)) plan.status = status;
    return plan;
  }

  // Initial cells exist until the world first becomes Ready; after that the cell
  // set is owned by split/merge operations, so a missing one is not re-created here.
  if (!world.status.initializedAt) {
    for (const desired of initialCells(world.spec)) {
      if (byId.has(desired.id)) continue;
      const cell: CellDoc = {
        id: desired.id,
        world: world.name,
        boundary: desired.boundary,
        parent: null,
        lineage: [],
        state: 'Pending',
        incarnation: 1,
        endpoint: null,
        startRequestedAt: iso,
        stopRequestedAt: null,
        readyAt: null,
        lastReportAt: null,
        load: emptyLoad(),
        exitReason: null,
        routable: false,
        holdRouting: false,
        handoff: null,
        blocked: null,
        createdAt: iso,
        updatedAt: iso,
        correlationId: world.correlationId,
      };
      byId.set(cell.id, cell);
      plan.writeCells.push(cell);
      plan.start.push({ cell: cell.id, incarnation: 1, boundary: cell.boundary });
      plan.events.push({
        type: 'CellCreated',
        cells: [cell.id],
        reason: 'InitialTopology',
        message: `cell ${cell.id} created for region ${JSON.stringify(cell.boundary)}`,
        data: { boundary: cell.boundary },
      });
    }
  }

  for (const c of cells) {
    if (c.state === 'Draining' && c.stopRequestedAt !== null && due(c.stopRequestedAt, now, opts.resendAfterMs)) {
      // A stop that was not acknowledged (lost command or report) is sent again.
      plan.stop.push({ cell: c.id, incarnation: c.incarnation, reason: 'Drained' });
      plan.writeCells.push({ ...c, stopRequestedAt: iso, updatedAt: iso });
    } else if (c.state === 'Pending' && due(c.startRequestedAt, now, opts.resendAfterMs)) {
      plan.start.push({ cell: c.id, incarnation: c.incarnation, boundary: c.boundary });
      plan.writeCells.push({ ...c, startRequestedAt: iso, updatedAt: iso });
    } else if (!opts.retired?.has(c.id) && c.state === 'Failed') {
      // Level-based self-healing on positive evidence only: the agent saw this incarnation exit,
      // killed it after failed probes, or does not run it. The next incarnation supersedes it.
      const next: CellDoc = {
        ...c,
        state: 'Pending',
        incarnation: c.incarnation + 1,
        endpoint: null,
        startRequestedAt: iso,
        readyAt: null,
        routable: false,
        handoff: null,
        updatedAt: iso,
      };
      byId.set(c.id, next);
      plan.writeCells.push(next);
      plan.start.push({ cell: c.id, incarnation: next.incarnation, boundary: c.boundary });
    }
  }

  const all = [...byId.values()];
  const restarts = plan.start.filter((st) =>
    cells.find((c) => c.id === st.cell && c.incarnation < st.incarnation),
  ).length;
  const base =
    restarts > 0
      ? { ...world.status, stats: { ...world.status.stats, recoveries: world.status.stats.recoveries + restarts } }
      : world.status;
  const status = computeStatus(base, all, now, healthCheck(opts));
  const initializing = !world.status.initializedAt;
  const live = all.filter(isLiveCell).filter((c) => c.state !== 'Draining');
  const allReady = status.ready;
  if (allReady && initializing) {
    status.initializedAt = iso;
    plan.events.push({
      type: 'WorldInitialized',
      cells: live.map((c) => c.id),
      reason: 'AllCellsReady',
      message: `${live.length} cells ready`,
      data: { seconds: (now.getTime() - new Date(world.createdAt).getTime()) / 1000 },
    });
  }
  if (!statusEquals(status, world.status)) plan.status = status;
  return plan;
}

function condition(
  previous: WorldStatus['conditions'],
  type: string,
  status: 'True' | 'False',
  reason: string,
  message: string,
  now: Date,
): WorldStatus['conditions'][number] {
  const before = previous.find((k) => k.type === type);
  // The transition time moves only when the status flips.
  const lastTransitionTime = before?.status === status ? before.lastTransitionTime : now.toISOString();
  return { type, status, reason, message, lastTransitionTime };
}

/**
 * Phase, readiness, cell count and the conditions (Ready; Degraded when a health check
 * is asked for), from the cells as they are now.
 */
export function computeStatus(current: WorldStatus, cells: readonly CellDoc[], now: Date, check?: Health): WorldStatus {
  const live = cells.filter(isLiveCell).filter((c) => c.state !== 'Draining');
  // Cells still coming up inside a split or merge do not make the world unready: their region is served.
  const serving = live.filter((c) => !c.holdRouting);
  const allReady =
    serving.length > 0 && serving.every((c) => c.state === 'Ready' || c.state === 'Splitting' || c.state === 'Merging');
  const initializing = !current.initializedAt && !allReady;
  const conditions = [
    condition(
      current.conditions,
      'Ready',
      allReady ? 'True' : 'False',
      allReady ? 'AllCellsReady' : initializing ? 'CellsStarting' : 'CellsNotReady',
      // No running count here: a message that changes with every ready cell would make every
      // reconcile during start-up a write. `cellsActive` and the cells list carry the numbers.
      allReady ? 'every live cell is Ready' : 'waiting for cells to become Ready',
      now,
    ),
  ];
  const h = check ? assessHealth(cells, now, check) : undefined;
  if (h) {
    conditions.push(condition(current.conditions, 'Degraded', h.degraded ? 'True' : 'False', h.reason, h.message, now));
  }
  const degraded = h?.degraded ?? false;
  return {
    ...current,
    phase:
      current.phase === 'Deleting'
        ? 'Deleting'
        : initializing
          ? 'Initializing'
          : allReady && !degraded
            ? 'Ready'
            : 'Degraded',
    ready: allReady,
    cellsActive: live.length,
    observedGeneration: current.generation,
    conditions,
  };
}

/** Whether a status carries a Degraded condition that is True. */
export function isDegraded(status: Pick<WorldStatus, 'conditions'>): boolean {
  return status.conditions.some((c) => c.type === 'Degraded' && c.status === 'True');
}

export interface ReportOutcome {
  /** The cell after the report, or undefined when the report is stale or changes nothing. */
  cell: CellDoc | undefined;
  events: PlannedEvent[];
  stale: boolean;
}

/** Applies one agent observation to a cell. Duplicates, late and out-of-order reports change nothing. */
export function applyReport(cell: CellDoc, report: AgentReport, now: Date): ReportOutcome {
  const iso = now.toISOString();
  if (report.incarnation !== cell.incarnation) return { cell: undefined, events: [], stale: true };
  switch (report.kind) {
    case 'started':
      if (cell.state !== 'Pending') return { cell: undefined, events: [], stale: true };
      return { cell: { ...cell, lastReportAt: iso, updatedAt: iso }, events: [], stale: false };
    case 'ready': {
      if (cell.state !== 'Pending') return { cell: undefined, events: [], stale: true };
      const events: PlannedEvent[] = [
        {
          type: 'CellReady',
          cells: [cell.id],
          reason: 'ReadinessProbe',
          message: `ready at ${report.endpoint ?? '?'}`,
        },
      ];
      if (cell.incarnation > 1) {
        events.push({
          type: 'CellRecovered',
          cells: [cell.id],
          reason: 'Restarted',
          message: `incarnation ${cell.incarnation} serves the region again`,
          data: { incarnation: cell.incarnation },
        });
      }
      return {
        cell: {
          ...cell,
          state: 'Ready',
          endpoint: report.endpoint,
          routable: !cell.holdRouting,
          readyAt: iso,
          lastReportAt: iso,
          updatedAt: iso,
        },
        events,
        stale: false,
      };
    }
    case 'stopped':
      // Only a cell we asked to stop (Draining, or Failed on its way out) stops. Any other
      // `stopped` is about an earlier life of this name and incarnation: a world deleted and
      // applied again reuses both. Were this cell really gone, the start resend (Pending)
      // or the sentinel's sync (serving) finds it, by evidence.
      if (cell.state !== 'Draining' && cell.state !== 'Failed') return { cell: undefined, events: [], stale: true };
      return {
        cell: {
          ...cell,
          state: 'Terminated',
          endpoint: null,
          routable: false,
          exitReason: report.reason || 'stopped',
          updatedAt: iso,
        },
        events: [
          { type: 'CellTerminated', cells: [cell.id], reason: report.reason || 'Stopped', message: 'cell stopped' },
        ],
        stale: false,
      };
    case 'exited':
      if (cell.state === 'Terminated' || cell.state === 'Failed') return { cell: undefined, events: [], stale: true };
      // A cell we asked to stop that exits is simply done.
      if (cell.state === 'Draining') {
        return {
          cell: {
            ...cell,
            state: 'Terminated',
            endpoint: null,
            routable: false,
            exitReason: report.reason,
            updatedAt: iso,
          },
          events: [{ type: 'CellTerminated', cells: [cell.id], reason: 'Stopped', message: report.reason }],
          stale: false,
        };
      }
      return {
        cell: { ...cell, state: 'Failed', endpoint: null, routable: false, exitReason: report.reason, updatedAt: iso },
        events: [
          {
            type: 'CellExited',
            cells: [cell.id],
            severity: 'Warning',
            reason: 'ProcessExited',
            message: `exit code ${report.exitCode ?? 'none'}: ${report.reason}`,
          },
        ],
        stale: false,
      };
    case 'handedOff':
      // Recorded on the source; the operation moves on from it. The same hand-off twice changes nothing.
      if (!report.operation || cell.handoff?.operation === report.operation) {
        return { cell: undefined, events: [], stale: true };
      }
      return {
        cell: { ...cell, handoff: { operation: report.operation, moved: report.moved ?? 0 }, updatedAt: iso },
        events: [],
        stale: false,
      };
  }
}

/** What a batch of reports did to a world's cells. */
export interface ReportsApplied {
  /** Every cell, with the reports applied. */
  cells: CellDoc[];
  /** Ids of the cells a report changed. */
  changed: Set<string>;
  /** Each applied report with the events it causes. */
  applied: Array<{ report: AgentReport; events: PlannedEvent[] }>;
  /** Reports that changed nothing: duplicates, late, for another incarnation, or for a cell that is gone. */
  stale: AgentReport[];
}

/**
 * Applies a batch of agent reports to a world's cells, in order, so a reconcile pass
 * can take every report that arrived while the previous one ran: one transaction for
 * the batch instead of one per report, and none contending with the next pass.
 */
export function applyReports(cells: readonly CellDoc[], reports: readonly AgentReport[], now: Date): ReportsApplied {
  const byId = new Map(cells.map((c) => [c.id, c]));
  const out: ReportsApplied = { cells: [], changed: new Set(), applied: [], stale: [] };
  for (const report of reports) {
    const cell = byId.get(report.cell);
    const outcome = cell ? applyReport(cell, report, now) : undefined;
    if (!outcome?.cell) {
      out.stale.push(report);
      continue;
    }
    byId.set(report.cell, outcome.cell);
    out.changed.add(report.cell);
    out.applied.push({ report, events: outcome.events });
  }
  out.cells = [...byId.values()];
  return out;
}
