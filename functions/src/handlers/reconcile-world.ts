import {
  AgentCommandSchema,
  TOPICS,
  paths,
  planWorld,
  type AgentCommand,
  type WorldPlan,
  type WorldReconcileMessage,
} from '@fleetforge/shared';
import type { Deps } from '../deps';
import type { Outcome } from '../pubsub-handler';
import { writeEvents } from '../records';
import { readCells, readWorld, writeCell } from './world-state';

const PRINCIPAL = 'system:reconcileWorld';

/**
 * Load the world and its cells, ask the pure planner what to do, and persist the
 * plan in one transaction; then publish the agent commands. Commands go out after
 * the commit, so a crash in between leaves a doc saying "start requested" and the
 * next reconcile re-sends it once `resendAfterMs` has passed.
 *
 * Most reconciles find nothing to do (a burst of reports re-queues the world many
 * times). Those are answered from a plain read: a transaction over every cell of
 * the world would hold those documents and stall the report handlers writing them.
 */
export async function reconcileWorld(deps: Deps, msg: WorldReconcileMessage, log: Deps['log']): Promise<Outcome> {
  const started = performance.now();
  const peek = await readWorld(deps.store, msg.world);
  if (!peek) {
    log.debug({ world: msg.world }, 'world gone; nothing to reconcile');
    return 'stale';
  }
  const peekPlan = planWorld(peek, await readCells(deps.store, msg.world), deps.clock.now(), {
    resendAfterMs: deps.resendAfterMs,
  });
  if (isEmptyPlan(peekPlan)) {
    log.debug({ world: msg.world, reason: msg.reason }, 'nothing to do');
    deps.metrics.observe('fleetforge_reconcile_duration_seconds', (performance.now() - started) / 1000);
    return 'ok';
  }
  const result = await deps.store.runTransaction(async (tx) => {
    const world = await readWorld(tx, msg.world);
    if (!world) return undefined;
    const cells = await readCells(tx, msg.world);
    const now = deps.clock.now();
    const plan = planWorld(world, cells, now, { resendAfterMs: deps.resendAfterMs });
    const existing = new Set(cells.map((c) => c.id));
    if (plan.finalizeDelete) {
      for (const c of cells) tx.delete(paths.cell(world.name, c.id));
      tx.delete(paths.world(world.name));
    } else {
      for (const c of plan.writeCells) writeCell(tx, existing.has(c.id), c);
      if (plan.status) tx.update(paths.world(world.name), { status: plan.status, updatedAt: now.toISOString() });
    }
    writeEvents(tx, plan.events, {
      world: world.name,
      correlationId: world.correlationId,
      principal: PRINCIPAL,
      time: now,
      ids: deps.ids,
    });
    return { world, plan };
  });
  if (!result) {
    log.debug({ world: msg.world }, 'world gone; nothing to reconcile');
    return 'stale';
  }
  const { world, plan } = result;
  const commands: AgentCommand[] = [
    ...plan.start.map((s) =>
      AgentCommandSchema.parse({
        kind: 'start',
        commandId: deps.ids.next('cmd'),
        world: world.name,
        cell: s.cell,
        incarnation: s.incarnation,
        boundary: s.boundary,
        capacity: world.spec.capacity,
        correlationId: world.correlationId,
      }),
    ),
    ...plan.stop.map((s) =>
      AgentCommandSchema.parse({
        kind: 'stop',
        commandId: deps.ids.next('cmd'),
        world: world.name,
        cell: s.cell,
        incarnation: s.incarnation,
        reason: s.reason,
        correlationId: world.correlationId,
      }),
    ),
  ];
  await Promise.all(
    commands.map((c) => deps.bus.publish(TOPICS.agentCommands, c, { world: c.world, correlationId: c.correlationId })),
  );
  for (const e of plan.events) {
    if (e.type === 'WorldInitialized') {
      deps.metrics.observe('fleetforge_world_ready_seconds', Number(e.data?.seconds ?? 0));
    }
  }
  const status = plan.status ?? world.status;
  deps.metrics.set('fleetforge_worlds_ready', status.ready ? 1 : 0, { world: world.name });
  deps.metrics.observe('fleetforge_reconcile_duration_seconds', (performance.now() - started) / 1000);
  log.info(
    {
      world: world.name,
      phase: status.phase,
      started: plan.start.map((s) => s.cell),
      stopped: plan.stop.map((s) => s.cell),
      events: plan.events.map((e) => e.type),
      finalized: plan.finalizeDelete,
    },
    'reconciled',
  );
  return 'ok';
}

/** A plan that writes, sends and records nothing. */
export function isEmptyPlan(plan: WorldPlan): boolean {
  return (
    plan.writeCells.length === 0 &&
    plan.start.length === 0 &&
    plan.stop.length === 0 &&
    plan.events.length === 0 &&
    plan.status === undefined &&
    !plan.finalizeDelete
  );
}
