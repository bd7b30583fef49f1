import { COLLECTIONS, TOPICS } from '@fleetforge/shared';
import type { Deps } from '../deps';

/**
 * The scheduled sweep: every world is queued for a level-based reconcile, so a
 * lost message or a crash between commit and publish heals within one period.
 */
export async function sentinelSweep(deps: Deps, correlationId: string): Promise<{ worlds: number }> {
  const worlds = await deps.store.list(COLLECTIONS.worlds);
  await Promise.all(
    worlds.map((w) => deps.bus.publish(TOPICS.worldReconcile, { world: w.id, reason: 'sentinel', correlationId })),
  );
  deps.log.info({ worlds: worlds.length, correlationId }, 'sentinel sweep queued worlds');
  return { worlds: worlds.length };
}
