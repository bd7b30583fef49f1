import { METRICS, metricNameProblems, type MetricDef } from './metrics';

const gauge = (labels: string[] = []): MetricDef => ({ type: 'gauge', help: 'h', labels });
const counter = (labels: string[] = []): MetricDef => ({ type: 'counter', help: 'h', labels });
const histogram = (labels: string[] = []): MetricDef => ({ type: 'histogram', help: 'h', labels, buckets: [1] });

describe('METRICS catalogue', () => {
  const entries = Object.entries(METRICS) as [string, MetricDef][];

  it.each(entries)('%s follows the GH-014 naming rules', (name, def) => {
    expect(metricNameProblems(name, def)).toEqual([]);
  });

  it.each(entries)('%s has strictly increasing buckets exactly when it is a histogram', (_name, def) => {
    if (def.type !== 'histogram') {
      expect(def.buckets).toBeUndefined();
      return;
    }
    expect(def.buckets?.length).toBeGreaterThan(0);
    const b = def.buckets!;
    for (let i = 1; i < b.length; i++) expect(b[i]).toBeGreaterThan(b[i - 1]!);
  });
});

describe('metricNameProblems', () => {
  it.each<[string, MetricDef, string[]]>([
    ['cells_active', gauge(), ['cells_active: not snake case with the fleetforge_ prefix']],
    ['fleetforge_CellsActive', gauge(), ['fleetforge_CellsActive: not snake case with the fleetforge_ prefix']],
    ['fleetforge-cells-active', gauge(), ['fleetforge-cells-active: not snake case with the fleetforge_ prefix']],
    ['fleetforge_1cells', gauge(), ['fleetforge_1cells: not snake case with the fleetforge_ prefix']],
    ['fleetforge_messages', counter(), ['fleetforge_messages: counters end in _total']],
    ['fleetforge_cells_total', gauge(), ['fleetforge_cells_total: only counters end in _total']],
    ['fleetforge_reconcile_duration', histogram(), ['fleetforge_reconcile_duration: histograms carry a unit']],
    [
      'fleetforge_reconcile_total',
      histogram(),
      [
        'fleetforge_reconcile_total: only counters end in _total',
        'fleetforge_reconcile_total: histograms carry a unit',
      ],
    ],
    ['fleetforge_cells', gauge(['World']), ['fleetforge_cells: label World is not snake case']],
    [
      'fleetforge_cells',
      gauge(['world', 'cell-id', '9lives']),
      ['fleetforge_cells: label cell-id is not snake case', 'fleetforge_cells: label 9lives is not snake case'],
    ],
    [
      'Messages',
      counter(['Function']),
      [
        'Messages: not snake case with the fleetforge_ prefix',
        'Messages: counters end in _total',
        'Messages: label Function is not snake case',
      ],
    ],
  ])('flags %s (%o)', (name, def, expected) => {
    expect(metricNameProblems(name, def)).toEqual(expected);
  });

  it.each<[string, MetricDef]>([
    ['fleetforge_messages_total', counter(['function', 'outcome'])],
    ['fleetforge_payload_bytes', histogram()],
    ['fleetforge_apply_seconds', histogram(['world'])],
    ['fleetforge_queue_depth_seconds', gauge()],
  ])('accepts %s', (name, def) => {
    expect(metricNameProblems(name, def)).toEqual([]);
  });
});

/**
 * The frozen catalogue (004: never rename a metric; add and deprecate). Dashboards,
 * alerts and finance queries name these. A new metric is appended here; a name,
 * type or label set is never changed or removed: mark it `deprecated` instead.
 */
const FROZEN: ReadonlyArray<[string, MetricDef['type'], string[]]> = [
  ['fleetforge_cells_active', 'gauge', ['world']],
  ['fleetforge_cell_sessions', 'gauge', ['world', 'cell']],
  ['fleetforge_average_cell_load', 'gauge', ['world']],
  ['fleetforge_sessions_active', 'gauge', ['world']],
  ['fleetforge_worlds_ready', 'gauge', ['world']],
  ['fleetforge_messages_total', 'counter', ['function', 'outcome']],
  ['fleetforge_reconcile_duration_seconds', 'histogram', []],
  ['fleetforge_metrics_lag_seconds', 'histogram', []],
  ['fleetforge_world_ready_seconds', 'histogram', []],
  ['fleetforge_split_duration_seconds', 'histogram', []],
  ['fleetforge_merge_duration_seconds', 'histogram', []],
  ['fleetforge_splits_total', 'counter', ['world']],
  ['fleetforge_merges_total', 'counter', ['world']],
  ['fleetforge_operation_oldest_active_seconds', 'gauge', ['world']],
  ['fleetforge_split_rollbacks_total', 'counter', ['world']],
  ['fleetforge_sessions_reassigned_total', 'counter', ['world']],
  ['fleetforge_split_cooldown_blocks_total', 'counter', ['world']],
  ['fleetforge_split_rate_limit_hits_total', 'counter', ['world']],
  ['fleetforge_recoveries_total', 'counter', ['world']],
  ['fleetforge_routing_epoch', 'gauge', ['world']],
  ['fleetforge_agent_commands_total', 'counter', ['kind', 'outcome']],
  ['fleetforge_agent_cells', 'gauge', ['driver']],
  ['fleetforge_agent_warm_cells', 'gauge', ['agent']],
  ['fleetforge_agent_warm_target', 'gauge', ['driver']],
  ['fleetforge_agent_cell_starts_total', 'counter', ['driver', 'source']],
  ['fleetforge_world_degraded', 'gauge', ['world']],
  ['fleetforge_cells_silent', 'gauge', ['world']],
  ['fleetforge_agent_heartbeat_age_seconds', 'gauge', ['agent']],
  ['fleetforge_agent_restarts_total', 'counter', ['agent']],
  ['fleetforge_agent_cells_adopted_total', 'counter', ['driver']],
  ['fleetforge_agent_probe_kills_total', 'counter', ['driver']],
  ['fleetforge_agent_sync_missing_total', 'counter', ['driver']],
  ['fleetforge_agent_orphans_stopped_total', 'counter', ['driver']],
  ['fleetforge_api_requests_total', 'counter', ['route', 'status']],
  ['fleetforge_tenant_pool_nodes', 'gauge', ['tenant']],
  ['fleetforge_tenant_pool_utilization_ratio', 'gauge', ['tenant', 'resource']],
  ['fleetforge_tenant_pool_headroom', 'gauge', ['tenant', 'resource']],
  ['fleetforge_tenant_ready_seconds', 'histogram', ['tier']],
  ['fleetforge_tenant_upgrade_downtime_seconds', 'histogram', []],
  ['fleetforge_feature_denied_total', 'counter', ['tier', 'feature']],
  ['fleetforge_tenant_cost_estimate_rolling', 'gauge', ['tenant']],
  ['fleetforge_tenant_cost_billing_window', 'gauge', ['tenant']],
  ['fleetforge_usage_samples_total', 'counter', ['outcome']],
  ['fleetforge_billing_exports_total', 'counter', ['outcome']],
  ['fleetforge_billing_export_duration_seconds', 'histogram', []],
  ['fleetforge_reconcile_conflicts_total', 'counter', ['world']],
];

describe('frozen metric catalogue', () => {
  it.each(FROZEN)('%s is still a %s with labels %j', (name, type, labels) => {
    const def = (METRICS as Record<string, MetricDef>)[name];
    expect(def).toBeDefined();
    expect([def!.type, [...def!.labels]]).toEqual([type, labels]);
  });

  it('lists every metric (a new one is added to FROZEN in the same change)', () => {
    expect(Object.keys(METRICS).sort()).toEqual(FROZEN.map(([n]) => n).sort());
  });
});
