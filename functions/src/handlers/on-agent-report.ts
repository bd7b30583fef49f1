import {
  AgentDocSchema,
  TOPICS,
  applyReport,
  parseOrThrow,
  paths,
  type AgentDoc,
  type AgentHeartbeat,
  type AgentMessage,
  type AgentReport,
  type Transaction,
} from '@fleetforge/shared';
import type { Deps } from '../deps';
import { ingestUsage } from '../usecases/billing-export';
import type { Outcome } from '../pubsub-handler';
import { writeEvents } from '../store/records';
import { publishSync, reconcileWorld } from '../usecases/reconcile-world';
import { parseCell, writeCell } from '../store/world-state';

/** Applies one agent observation to its cell, then reconciles the world; records heartbeats. */
export async function onAgentReport(deps: Deps, message: AgentMessage, log: Deps['log']): Promise<Outcome> {
  if (message.kind === 'heartbeat') return recordHeartbeat(deps, message, log);
  if (message.kind === 'usage') return ingestUsage(deps, message, log);
  const report: AgentReport = message;
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

/**
 * Records an agent heartbeat in `agents/{id}`: agent liveness, apart from any cell's.
 * A heartbeat older than the one stored (same boot, lower seq; or an earlier boot) is stale.
 * A new boot is an agent restart: counted, and announced once as AgentRestarted.
 */
async function recordHeartbeat(deps: Deps, hb: AgentHeartbeat, log: Deps['log']): Promise<Outcome> {
  const path = paths.agent(hb.agentId);
  const outcome = await deps.store.runTransaction(async (tx) => {
    const data = await tx.get(path);
    const before: AgentDoc | undefined = data ? parseOrThrow(AgentDocSchema, data, `document ${path}`) : undefined;
    const now = deps.clock.now();
    if (before) {
      const sameBoot = before.bootId === hb.bootId;
      if (sameBoot ? hb.seq <= before.seq : hb.startedAt < before.startedAt) return 'stale' as const;
    }
    const restarted = before !== undefined && before.bootId !== hb.bootId;
    const doc: AgentDoc = {
      agentId: hb.agentId,
      bootId: hb.bootId,
      startedAt: hb.startedAt,
      sentAt: hb.at,
      receivedAt: now.toISOString(),
      seq: hb.seq,
      driver: hb.driver,
      cells: hb.cells,
      adopted: hb.adopted,
      warm: hb.warm,
      restarts: (before?.restarts ?? 0) + (restarted ? 1 : 0),
    };
    tx.set(path, doc);
    if (restarted) {
      writeEvents(
        tx,
        [
          {
            type: 'AgentRestarted',
            cells: [],
            severity: 'Warning',
            reason: 'NewBoot',
            message: `agent ${hb.agentId} restarted (boot ${hb.bootId}, started ${hb.startedAt}); it adopts the cells that still run`,
            data: { agentId: hb.agentId, bootId: hb.bootId, previousBootId: before.bootId },
          },
        ],
        { world: null, correlationId: hb.correlationId, principal: `agent:${hb.agentId}`, time: now, ids: deps.ids },
      );
    }
    return restarted ? ('restarted' as const) : ('ok' as const);
  });
  if (outcome === 'stale') return 'stale';
  if (outcome === 'restarted') log.warn({ agentId: hb.agentId, bootId: hb.bootId }, 'agent restarted');
  // Cells of a world the control plane no longer has are orphans (the world's stop
  // commands were lost, say): an empty sync lets the agent stop them.
  for (const world of hb.worlds) {
    if (await deps.store.get(paths.world(world))) continue;
    log.warn({ world, agentId: hb.agentId }, 'agent runs cells of a world that is gone; asking it to stop them');
    await publishSync(deps, world, [], [], 0, hb.correlationId);
  }
  return 'ok';
}
