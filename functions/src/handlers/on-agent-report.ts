import {
  AgentDocSchema,
  parseOrThrow,
  paths,
  type AgentDoc,
  type AgentHeartbeat,
  type AgentMessage,
  type AgentReport,
} from '@fleetforge/shared';
import type { Deps } from '../deps';
import { ingestUsage } from '../usecases/billing-export';
import type { Outcome } from '../pubsub-handler';
import { writeEvents } from '../store/records';
import { deferReports, publishSync, reconcileWithReports } from '../usecases/reconcile-world';

/**
 * Applies one agent observation to its cell within the world's next reconcile pass
 * (reports arriving together share that pass and its one transaction); records
 * heartbeats and usage. A failed pass throws, so Pub/Sub delivers the report again.
 */
export async function onAgentReport(deps: Deps, message: AgentMessage, log: Deps['log']): Promise<Outcome> {
  if (message.kind === 'heartbeat') return recordHeartbeat(deps, message, log);
  if (message.kind === 'usage') return ingestUsage(deps, message, log);
  // `started` alone asks for no pass: it rides with the world's next one (see deferReports).
  const reports = message.kind === 'reports' ? message.reports : [message];
  if (reports.every((r) => r.kind === 'started')) {
    for (const r of reports) deferReports(deps, r.world, [r]);
    return 'ok';
  }
  // One pass per world named (a batch is one world's, as the agent sends it).
  const byWorld = new Map<string, AgentReport[]>();
  for (const r of reports) byWorld.set(r.world, [...(byWorld.get(r.world) ?? []), r]);
  const outcomes = await Promise.all(
    [...byWorld].map(([world, batch]) =>
      reconcileWithReports(
        deps,
        {
          world,
          reason: batch.length === 1 ? `report:${batch[0]!.kind}:${batch[0]!.cell}` : `reports:${batch.length}`,
          correlationId: batch[0]!.correlationId,
        },
        log,
        batch,
      ),
    ),
  );
  return outcomes.every((o) => o === 'stale') ? 'stale' : 'ok';
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
      warmTarget: hb.warmTarget,
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
