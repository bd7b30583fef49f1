import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { METRICS, type MetricDef, type MetricLabels, type MetricName, type MetricsSink } from '@fleetforge/shared';

const PROCESS_PREFIX = 'fleetforge_process_';

type AnyMetric = Counter<string> | Gauge<string> | Histogram<string>;

/** MetricsSink on a prom-client registry, built from the shared catalogue. */
export class PromMetricsSink implements MetricsSink {
  readonly registry: Registry;
  private readonly metrics = new Map<MetricName, AnyMetric>();

  constructor(registry = new Registry(), opts: { defaultMetrics?: boolean } = {}) {
    this.registry = registry;
    if (opts.defaultMetrics) {
      collectDefaultMetrics({ register: registry, prefix: PROCESS_PREFIX });
      // prom-client also exports these gauges under a `_total` name, which `promtool check
      // metrics` rejects (only counters end in _total); their twins without it remain.
      for (const name of ['handles', 'requests', 'resources']) {
        registry.removeSingleMetric(`${PROCESS_PREFIX}nodejs_active_${name}_total`);
      }
    }
  }

  private metric(name: MetricName): AnyMetric {
    let m = this.metrics.get(name);
    if (m) return m;
    const def: MetricDef = METRICS[name];
    const common = { name, help: def.help, labelNames: [...def.labels], registers: [this.registry] };
    m =
      def.type === 'counter'
        ? new Counter(common)
        : def.type === 'gauge'
          ? new Gauge(common)
          : new Histogram({ ...common, ...(def.buckets ? { buckets: [...def.buckets] } : {}) });
    this.metrics.set(name, m);
    return m;
  }

  inc(name: MetricName, labels: MetricLabels = {}, by = 1): void {
    (this.metric(name) as Counter<string>).inc(labels, by);
  }

  set(name: MetricName, value: number, labels: MetricLabels = {}): void {
    (this.metric(name) as Gauge<string>).set(labels, value);
  }

  observe(name: MetricName, value: number, labels: MetricLabels = {}): void {
    (this.metric(name) as Histogram<string>).observe(labels, value);
  }

  /** Drops a labelled series (a deleted world must not linger as a stale gauge). */
  remove(name: MetricName, labels: MetricLabels): void {
    const m = this.metrics.get(name);
    if (m) m.remove(labels);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
