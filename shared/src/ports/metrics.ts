/**
 * The metric catalogue: every metric FleetForge emits, with its type, help and
 * bounded label set. Names are never renamed; new ones are added and old ones
 * deprecated (`deprecated: true` keeps emitting them).
 */
export interface MetricDef {
  type: 'counter' | 'gauge' | 'histogram';
  help: string;
  labels: readonly string[];
  buckets?: readonly number[];
  deprecated?: boolean;
}

const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60] as const;

export const METRICS = {
  fleetforge_cells_active: {
    type: 'gauge',
    help: 'Cells holding part of a world (not Terminated or Failed).',
    labels: ['world'],
  },
  fleetforge_cell_sessions: {
    type: 'gauge',
    help: 'Sessions held by one cell at its last report.',
    labels: ['world', 'cell'],
  },
  fleetforge_average_cell_load: {
    type: 'gauge',
    help: 'Mean session load ratio (sessions / capacity) over the live cells of a world.',
    labels: ['world'],
  },
  fleetforge_sessions_active: { type: 'gauge', help: 'Sessions held by all cells of a world.', labels: ['world'] },
  fleetforge_worlds_ready: { type: 'gauge', help: '1 when the world is Ready, else 0.', labels: ['world'] },
  fleetforge_messages_total: {
    type: 'counter',
    help: 'Pub/Sub messages handled, by function and outcome (ok, retry, poison, stale).',
    labels: ['function', 'outcome'],
  },
  fleetforge_reconcile_duration_seconds: {
    type: 'histogram',
    help: 'Time one reconcileWorld invocation took.',
    labels: [],
    buckets: DURATION_BUCKETS,
  },
  fleetforge_reconcile_conflicts_total: {
    type: 'counter',
    help: 'Reconcile passes that read again because another writer changed the world first (optimistic commit refused).',
    labels: ['world'],
  },
  fleetforge_metrics_lag_seconds: {
    type: 'histogram',
    help: 'Age of the newest load sample of a cell-metrics message when ingestMetrics handles it (agent relay, Pub/Sub and queueing).',
    labels: [],
    buckets: DURATION_BUCKETS,
  },
  fleetforge_world_ready_seconds: {
    type: 'histogram',
    help: 'Time from a world apply to every initial cell Ready.',
    labels: [],
    buckets: DURATION_BUCKETS,
  },
  fleetforge_split_duration_seconds: {
    type: 'histogram',
    help: 'Time from a split decision to its parent drained (children serving).',
    labels: [],
    buckets: DURATION_BUCKETS,
  },
  fleetforge_merge_duration_seconds: {
    type: 'histogram',
    help: 'Time from a merge decision to its siblings drained (merged cell serving).',
    labels: [],
    buckets: DURATION_BUCKETS,
  },
  fleetforge_splits_total: { type: 'counter', help: 'Completed splits.', labels: ['world'] },
  fleetforge_merges_total: { type: 'counter', help: 'Completed merges.', labels: ['world'] },
  fleetforge_split_rollbacks_total: { type: 'counter', help: 'Splits and merges rolled back.', labels: ['world'] },
  fleetforge_sessions_reassigned_total: {
    type: 'counter',
    help: 'Sessions handed over from one cell to another by splits and merges.',
    labels: ['world'],
  },
  fleetforge_split_cooldown_blocks_total: {
    type: 'counter',
    help: 'Split attempts not executed because of the cool-down.',
    labels: ['world'],
  },
  fleetforge_split_rate_limit_hits_total: {
    type: 'counter',
    help: 'Split attempts not executed because of a rate limit, maxConcurrentSplits or the wait for warm cells.',
    labels: ['world'],
  },
  fleetforge_recoveries_total: { type: 'counter', help: 'Failed cells restarted.', labels: ['world'] },
  fleetforge_operation_oldest_active_seconds: {
    type: 'gauge',
    help: 'Age of the oldest split, merge or recovery of a world still in progress (0 with none).',
    labels: ['world'],
  },
  fleetforge_routing_epoch: { type: 'gauge', help: 'Current routing epoch of a world.', labels: ['world'] },
  fleetforge_agent_commands_total: {
    type: 'counter',
    help: 'Commands the agent executed, by kind and outcome.',
    labels: ['kind', 'outcome'],
  },
  fleetforge_agent_cells: { type: 'gauge', help: 'Cells the agent runs now.', labels: ['driver'] },
  fleetforge_agent_warm_cells: {
    type: 'gauge',
    help: 'Idle, ready cells in the agent warm pool now (as its last heartbeat said, on the API).',
    labels: ['agent'],
  },
  fleetforge_agent_warm_target: {
    type: 'gauge',
    help: 'Idle cells the agent keeps warm: the sum of its worlds warmPool.size, capped by FF_WARM_MAX.',
    labels: ['driver'],
  },
  fleetforge_agent_cell_starts_total: {
    type: 'counter',
    help: 'Cell starts by source: warm (an idle pool cell was assigned) or cold (a new process or pod).',
    labels: ['driver', 'source'],
  },
  fleetforge_world_degraded: {
    type: 'gauge',
    help: '1 while a world is Degraded because its agent or its cells went silent (nothing is replaced for silence).',
    labels: ['world'],
  },
  fleetforge_cells_silent: {
    type: 'gauge',
    help: 'Serving cells of a world whose last report is older than the staleness threshold.',
    labels: ['world'],
  },
  fleetforge_agent_heartbeat_age_seconds: {
    type: 'gauge',
    help: 'Seconds since the control plane recorded the last heartbeat of an agent.',
    labels: ['agent'],
  },
  fleetforge_agent_restarts_total: {
    type: 'counter',
    help: 'Agent restarts (new boots) the control plane has seen.',
    labels: ['agent'],
  },
  fleetforge_agent_cells_adopted_total: {
    type: 'counter',
    help: 'Running cells a (re)started agent found and took over instead of starting new ones.',
    labels: ['driver'],
  },
  fleetforge_agent_probe_kills_total: {
    type: 'counter',
    help: 'Cells the agent stopped because their health probe failed repeatedly (then reported as exited).',
    labels: ['driver'],
  },
  fleetforge_agent_sync_missing_total: {
    type: 'counter',
    help: 'Cells the control plane believed serving that the agent did not run (reported exited, NotRunning).',
    labels: ['driver'],
  },
  fleetforge_agent_orphans_stopped_total: {
    type: 'counter',
    help: 'Running cells the agent stopped because two syncs agreed the control plane no longer keeps them.',
    labels: ['driver'],
  },
  fleetforge_api_requests_total: {
    type: 'counter',
    help: 'API requests by route template and status class.',
    labels: ['route', 'status'],
  },
  fleetforge_tenant_pool_nodes: {
    type: 'gauge',
    help: 'Ready nodes reserved for a dedicated tenant.',
    labels: ['tenant'],
  },
  fleetforge_tenant_pool_utilization_ratio: {
    type: 'gauge',
    help: 'Requested over allocatable in a dedicated tenant pool, by resource (cpu, memory).',
    labels: ['tenant', 'resource'],
  },
  fleetforge_tenant_pool_headroom: {
    type: 'gauge',
    help: 'Unrequested capacity in a dedicated tenant pool: CPU millicores or memory MiB.',
    labels: ['tenant', 'resource'],
  },
  fleetforge_tenant_ready_seconds: {
    type: 'histogram',
    help: 'Time from a tenant command to the tenant Ready, by tier.',
    labels: ['tier'],
    buckets: DURATION_BUCKETS,
  },
  fleetforge_tenant_upgrade_downtime_seconds: {
    type: 'histogram',
    help: 'Longest span in a dev-to-standard upgrade when no replica of some workload was ready.',
    labels: [],
    buckets: DURATION_BUCKETS,
  },
  fleetforge_feature_denied_total: {
    type: 'counter',
    help: 'Premium API calls refused for the caller tenant tier.',
    labels: ['tier', 'feature'],
  },
  fleetforge_tenant_cost_estimate_rolling: {
    type: 'gauge',
    help: 'Estimated cost of a tenant over the last hour (sliding; an observation, not the invoice). Tenants past MAX_TENANT_LABELS are summed in tenant="other".',
    labels: ['tenant'],
  },
  fleetforge_tenant_cost_billing_window: {
    type: 'gauge',
    help: 'Cost of a tenant so far in the current billing window (daily, cut at UTC midnight). Tenants past MAX_TENANT_LABELS are summed in tenant="other".',
    labels: ['tenant'],
  },
  fleetforge_usage_samples_total: {
    type: 'counter',
    help: 'Usage samples ingested, by outcome (new, duplicate, late).',
    labels: ['outcome'],
  },
  fleetforge_billing_exports_total: {
    type: 'counter',
    help: 'billingExport runs by outcome (exported, exists, failed).',
    labels: ['outcome'],
  },
  fleetforge_billing_export_duration_seconds: {
    type: 'histogram',
    help: 'Time one billing export took, from reading samples to the manifest committed.',
    labels: [],
    buckets: DURATION_BUCKETS,
  },
} as const satisfies Record<string, MetricDef>;

export type MetricName = keyof typeof METRICS;

/** Prometheus naming rules (GH-014): snake case, fleetforge_ prefix, counters end in _total, durations in _seconds. */
export function metricNameProblems(name: string, def: MetricDef): string[] {
  const problems: string[] = [];
  if (!/^fleetforge_[a-z][a-z0-9_]*$/.test(name)) problems.push(`${name}: not snake case with the fleetforge_ prefix`);
  if (def.type === 'counter' && !name.endsWith('_total')) problems.push(`${name}: counters end in _total`);
  if (def.type !== 'counter' && name.endsWith('_total')) problems.push(`${name}: only counters end in _total`);
  if (def.type === 'histogram' && !/_(seconds|bytes)$/.test(name)) problems.push(`${name}: histograms carry a unit`);
  for (const label of def.labels) {
    if (!/^[a-z][a-z0-9_]*$/.test(label)) problems.push(`${name}: label ${label} is not snake case`);
  }
  return problems;
}
