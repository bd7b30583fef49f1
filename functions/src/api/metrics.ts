import {
  AgentDocSchema,
  COLLECTIONS,
  isDegraded,
  isLiveCell,
  parseOrThrow,
  paths,
  silentCells,
} from '@fleetforge/shared';
import { PromMetricsSink } from '../adapters/prom-metrics';
import { readOperations } from '../store/operations';
import { parseWorld, readCellsWithLoads } from '../store/world-state';
import type { ApiResponse, RouteContext } from './http';

/**
 * `GET /metrics`: world and cell gauges derived from Firestore at scrape time, so
 * they are right whichever function instance answers (functions are many
 * processes; the state is one). Labels are bounded by maxCells per world.
 */
export async function metricsText(ctx: RouteContext, processSink?: PromMetricsSink): Promise<ApiResponse> {
  const sink = new PromMetricsSink();
  const worlds = await ctx.deps.store.list(COLLECTIONS.worlds);
  for (const d of worlds) {
    const w = parseWorld(d.data, d.id);
    const live = (await readCellsWithLoads(ctx.deps.store, w.name)).filter(isLiveCell);
    const sessions = live.reduce((n, c) => n + c.load.sessions, 0);
    sink.set('fleetforge_cells_active', live.length, { world: w.name });
    sink.set('fleetforge_sessions_active', sessions, { world: w.name });
    sink.set('fleetforge_worlds_ready', w.status.ready ? 1 : 0, { world: w.name });
    sink.set(
      'fleetforge_average_cell_load',
      live.length === 0 ? 0 : sessions / (live.length * w.spec.capacity.sessions),
      { world: w.name },
    );
    for (const c of live) sink.set('fleetforge_cell_sessions', c.load.sessions, { world: w.name, cell: c.id });
    sink.set('fleetforge_routing_epoch', w.status.routingEpoch, { world: w.name });
    sink.set('fleetforge_world_degraded', isDegraded(w.status) ? 1 : 0, { world: w.name });
    sink.set('fleetforge_cells_silent', silentCells(live, new Date(), ctx.deps.staleAfterMs).length, { world: w.name });
    // Counters live in the world document, so every instance reports the same totals.
    const s = w.status.stats;
    const totals = [
      ['fleetforge_splits_total', s.splits],
      ['fleetforge_merges_total', s.merges],
      ['fleetforge_split_rollbacks_total', s.rollbacks],
      ['fleetforge_recoveries_total', s.recoveries],
      ['fleetforge_sessions_reassigned_total', s.sessionsReassigned],
      ['fleetforge_split_cooldown_blocks_total', s.splitCooldownBlocks],
      ['fleetforge_split_rate_limit_hits_total', s.splitRateLimitHits],
    ] as const;
    for (const [name, value] of totals) sink.inc(name, { world: w.name }, value);
    // Durations from the stored operations (the most recent 200 per world).
    for (const op of await readOperations(ctx.deps.store, w.name)) {
      if (op.state !== 'Completed' || !op.completedAt) continue;
      const seconds = (Date.parse(op.completedAt) - Date.parse(op.createdAt)) / 1000;
      sink.observe(
        op.kind === 'split' ? 'fleetforge_split_duration_seconds' : 'fleetforge_merge_duration_seconds',
        seconds,
      );
    }
  }
  for (const d of await ctx.deps.store.list(paths.agents())) {
    const a = parseOrThrow(AgentDocSchema, d.data, `document ${d.path}`);
    const age = (ctx.deps.clock.now().getTime() - Date.parse(a.receivedAt)) / 1000;
    sink.set('fleetforge_agent_heartbeat_age_seconds', Math.max(0, age), { agent: a.agentId });
    sink.inc('fleetforge_agent_restarts_total', { agent: a.agentId }, a.restarts);
    sink.set('fleetforge_agent_warm_cells', a.warm, { agent: a.agentId });
  }
  const text = (await sink.text()) + (processSink ? await processSink.text() : '');
  return { status: 200, body: text, contentType: 'text/plain; version=0.0.4' };
}
