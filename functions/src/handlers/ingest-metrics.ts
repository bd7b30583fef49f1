import {
  LOAD_WINDOW_SIZE,
  paths,
  type CellMetricsMessage,
  type CellSample,
  type LoadSample,
  type WriteOp,
} from '@fleetforge/shared';
import type { Deps } from '../deps';
import type { Outcome } from '../pubsub-handler';
import { reconcileWorld } from './reconcile-world';
import { parseCell } from './world-state';

/**
 * Appends samples to each cell's load window: one read of the world's cells and
 * at most one write per cell per message, the window capped at LOAD_WINDOW_SIZE.
 * Samples for an older incarnation, or not newer than the window's last, are dropped.
 */
export async function ingestMetrics(deps: Deps, msg: CellMetricsMessage, log: Deps['log']): Promise<Outcome> {
  const cells = new Map(
    (await deps.store.list(paths.cells(msg.world))).map((d) => {
      const c = parseCell(d.data, d.path);
      return [c.id, c] as const;
    }),
  );
  const byCell = new Map<string, CellSample[]>();
  for (const s of msg.samples) {
    const cell = cells.get(s.cell);
    if (!cell || cell.incarnation !== s.incarnation) continue;
    byCell.set(s.cell, [...(byCell.get(s.cell) ?? []), s]);
  }
  const ops: WriteOp[] = [];
  for (const [id, samples] of byCell) {
    const cell = cells.get(id)!;
    const last = cell.load.window.at(-1)?.at ?? '';
    const fresh = samples.filter((s) => s.at > last).sort((a, b) => (a.at < b.at ? -1 : 1));
    const latest = fresh.at(-1);
    if (!latest) continue;
    const window: LoadSample[] = [
      ...cell.load.window,
      ...fresh.map(({ at, sessions, cpuMillis, memoryMiB }) => ({ at, sessions, cpuMillis, memoryMiB })),
    ].slice(-LOAD_WINDOW_SIZE);
    ops.push({
      op: 'update',
      path: paths.cell(msg.world, id),
      patch: {
        load: {
          sessions: latest.sessions,
          cpuMillis: latest.cpuMillis,
          memoryMiB: latest.memoryMiB,
          window,
          hist: latest.hist ?? null,
        },
        lastReportAt: latest.at,
      },
    });
    deps.metrics.set('fleetforge_cell_sessions', latest.sessions, { world: msg.world, cell: id });
  }
  if (ops.length === 0) {
    log.debug({ world: msg.world }, 'no fresh samples');
    return 'stale';
  }
  await deps.store.batch(ops);
  // Scaling decisions follow the load: look at the world now rather than at the next sweep.
  await reconcileWorld(deps, { world: msg.world, reason: 'metrics', correlationId: `metrics-${msg.world}` }, log);
  return 'ok';
}
