import { TOPICS, applyReport, paths, type AgentReport, type Transaction } from '@fleetforge/shared';
import type { Deps } from '../deps';
import type { Outcome } from '../pubsub-handler';
import { writeEvents } from '../records';
import { reconcileWorld } from './reconcile-world';
import { parseCell, writeCell } from './world-state';

/** Applies one agent observation to its cell, then reconciles the world. */
export async function onAgentReport(deps: Deps, report: AgentReport, log: Deps['log']): Promise<Outcome> {
  const changed = await deps.store.runTransaction(async (tx) => {
    if (report.kind === 'handedOff') return applyHandoff(tx, report);
    const path = paths.cell(report.world, report.cell);
    const data = await tx.get(path);
    if (!data) return false;
    const cell = parseCell(data, path);
    const now = deps.clock.now();
    const outcome = applyReport(cell, report, now);
    if (!outcome.cell) return false;
    writeCell(tx, true, outcome.cell);
    writeEvents(tx, outcome.events, {
      world: report.world,
      correlationId: report.correlationId,
      principal: `agent:${report.agentId}`,
      time: now,
      ids: deps.ids,
    });
    return true;
  });
  if (!changed) {
    log.debug(
      { world: report.world, cell: report.cell, kind: report.kind, incarnation: report.incarnation },
      'stale report ignored',
    );
    return 'stale';
  }
  log.info({ world: report.world, cell: report.cell, kind: report.kind }, 'report applied');
  // `started` changes nothing the reconciler acts on; every other report may.
  if (report.kind === 'started') return 'ok';
  const again = {
    world: report.world,
    reason: `report:${report.kind}:${report.cell}`,
    correlationId: report.correlationId,
  };
  try {
    // Inline rather than through world-reconcile: one hop less between the last cell
    // becoming ready and the world being Ready. Level-based, so racing reconciles are harmless.
    await reconcileWorld(deps, again, log);
  } catch (err) {
    log.warn({ err: String(err), world: report.world }, 'inline reconcile failed; queueing one');
    await deps.bus.publish(TOPICS.worldReconcile, again);
  }
  return 'ok';
}

/**
 * A hand-off report is recorded on its source cell; the reconcile that follows
 * moves the operation on. Duplicates and reports for another incarnation change nothing.
 */
async function applyHandoff(tx: Transaction, report: AgentReport): Promise<boolean> {
  if (!report.operation) return false;
  const path = paths.cell(report.world, report.cell);
  const data = await tx.get(path);
  if (!data) return false;
  const cell = parseCell(data, path);
  if (cell.incarnation !== report.incarnation || cell.handoff?.operation === report.operation) return false;
  tx.update(path, { handoff: { operation: report.operation, moved: report.moved ?? 0 } });
  return true;
}
