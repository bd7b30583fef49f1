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
