import type { MetricName } from '../ports/metrics';
import type { MetricLabels, MetricsSink } from '../ports/interfaces';

function key(name: string, labels: MetricLabels = {}): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`);
  return `${name}{${parts.join(',')}}`;
}

/** MetricsSink that remembers what it was told, for assertions. */
export class RecordingMetricsSink implements MetricsSink {
  readonly values = new Map<string, number>();
  readonly observations = new Map<string, number[]>();

  inc(name: MetricName, labels?: MetricLabels, by = 1): void {
    const k = key(name, labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }

  set(name: MetricName, value: number, labels?: MetricLabels): void {
    this.values.set(key(name, labels), value);
  }

  observe(name: MetricName, value: number, labels?: MetricLabels): void {
    const k = key(name, labels);
    this.observations.set(k, [...(this.observations.get(k) ?? []), value]);
  }

  value(name: MetricName, labels?: MetricLabels): number | undefined {
    return this.values.get(key(name, labels));
  }
}
