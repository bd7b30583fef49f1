import {
  LOAD_WINDOW_SIZE,
  foldHistory,
  LoadDocSchema,
  packLoadDoc,
  parseOrThrow,
  paths,
  type CellMetricsMessage,
  type CellSample,
  type LoadDoc,
  type WriteOp,
} from '@fleetforge/shared';
import type { Deps } from '../deps';
import type { Outcome } from '../pubsub-handler';
import { reconcileWorld, rememberLoads } from '../usecases/reconcile-world';
import { readCells } from '../store/world-state';

/** A message whose newest sample is older than this is part of a backlog. */
export const CATCH_UP_AFTER_MS = 2_500;
/** While catching up, a world is reconciled at most this often from here. */
export const CATCH_UP_PASS_MS = 2_000;

/** When this instance last reconciled each world from a metrics message. */
const lastPass = new WeakMap<Deps, Map<string, number>>();

/**
 * Appends samples to each cell's load window (`worlds/{w}/loads/{cell}`): one read
 * of the world's cells and loads, at most one write per cell per message, the
 * window capped at LOAD_WINDOW_SIZE (older samples folded into its `history`, so
 * sustains longer than the window stay decidable). Samples for another incarnation, or not newer
 * than the window's last, are dropped. Then the world is reconciled, so scaling
 * decisions follow the load within a sample interval. A late message (part of a
 * backlog: messages queue behind a slow handler, and the emulator pushes one at a time)
 * reconciles at most once per CATCH_UP_PASS_MS per world: the backlog drains faster
 * when most of its messages only store their samples, and decisions still follow.
 */
export async function ingestMetrics(deps: Deps, msg: CellMetricsMessage, log: Deps['log']): Promise<Outcome> {
  const [cells, loads] = await Promise.all([readCells(deps.store, msg.world), deps.store.list(paths.loads(msg.world))]);
  const incarnation = new Map(cells.map((c) => [c.id, c.incarnation]));
  const current = new Map(
    loads.map((d) => {
      const l = parseOrThrow(LoadDocSchema, d.data, `document ${d.path}`);
      return [l.cell, l] as const;
    }),
  );
  const byCell = new Map<string, CellSample[]>();
  for (const s of msg.samples) {
    if (incarnation.get(s.cell) !== s.incarnation) continue;
    byCell.set(s.cell, [...(byCell.get(s.cell) ?? []), s]);
  }
  const ops: WriteOp[] = [];
  for (const [id, samples] of byCell) {
    const before = current.get(id);
    // A new incarnation starts a new window (and history).
    const same = before && before.incarnation === samples[0]!.incarnation ? before : undefined;
    const window = same?.window ?? [];
    const last = window.at(-1)?.at ?? '';
    const fresh = samples.filter((s) => s.at > last).sort((a, b) => (a.at < b.at ? -1 : 1));
    const latest = fresh.at(-1);
    if (!latest) continue;
    const all = [
      ...window,
      ...fresh.map(({ at, sessions, cpuMillis, memoryMiB }) => ({ at, sessions, cpuMillis, memoryMiB })),
    ];
    const leaving = all.slice(0, Math.max(0, all.length - LOAD_WINDOW_SIZE));
    const doc: LoadDoc = {
      cell: id,
      incarnation: latest.incarnation,
      sessions: latest.sessions,
      cpuMillis: latest.cpuMillis,
      memoryMiB: latest.memoryMiB,
      window: all.slice(leaving.length),
      hist: latest.hist ?? null,
      history: foldHistory(
        same?.history ?? null,
        leaving.map((s) => ({ at: Date.parse(s.at), sessions: s.sessions, cpuMillis: s.cpuMillis })),
      ),
      lastReportAt: latest.at,
    };
    ops.push({ op: 'set', path: paths.load(msg.world, id), data: packLoadDoc(doc) });
    current.set(id, doc);
    deps.metrics.set('fleetforge_cell_sessions', latest.sessions, { world: msg.world, cell: id });
  }
  const newest = msg.samples.reduce((t, s) => (s.at > t ? s.at : t), '');
  const nowMs = deps.clock.now().getTime();
  const lagMs = newest ? nowMs - Date.parse(newest) : 0;
  deps.metrics.observe('fleetforge_metrics_lag_seconds', Math.max(0, lagMs) / 1000);
  if (ops.length === 0) {
    log.debug({ world: msg.world }, 'no fresh samples');
    return 'stale';
  }
  await deps.store.batch(ops);
  let passes = lastPass.get(deps);
  if (!passes) lastPass.set(deps, (passes = new Map<string, number>()));
  if (lagMs > CATCH_UP_AFTER_MS && nowMs - (passes.get(msg.world) ?? -Infinity) < CATCH_UP_PASS_MS) {
    log.debug({ world: msg.world, lagMs }, 'late samples stored; the world was reconciled moments ago');
    return 'ok';
  }
  passes.set(msg.world, nowMs);
  rememberLoads(deps, msg.world, current);
  await reconcileWorld(deps, { world: msg.world, reason: 'metrics', correlationId: `metrics-${msg.world}` }, log);
  return 'ok';
}
