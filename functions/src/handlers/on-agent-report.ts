import { TOPICS, applyReport, paths, type AgentReport } from '@fleetforge/shared';
import type { Deps } from '../deps';
import type { Outcome } from '../pubsub-handler';
import { writeEvents } from '../records';
import { parseCell, writeCell } from './world-state';

/** Applies one agent observation to its cell, then asks for a reconcile of the world. */
export async function onAgentReport(deps: Deps, report: AgentReport, log: Deps['log']): Promise<Outcome> {
  const changed = await deps.store.runTransaction(async (tx) => {
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
  await deps.bus.publish(TOPICS.worldReconcile, {
    world: report.world,
    reason: `report:${report.kind}:${report.cell}`,
    correlationId: report.correlationId,
  });
  log.info({ world: report.world, cell: report.cell, kind: report.kind }, 'report applied');
  return 'ok';
}
