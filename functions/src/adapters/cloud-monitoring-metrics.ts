import { MetricServiceClient } from '@google-cloud/monitoring';
import { METRICS, type MetricLabels, type MetricName, type MetricsSink } from '@fleetforge/shared';
import type { Logger } from '../log';

interface Point {
  name: MetricName;
  labels: MetricLabels;
  value: number;
}

/**
 * MetricsSink on Cloud Monitoring custom metrics (`custom.googleapis.com/fleetforge/…`).
 * Counters are kept as cumulative sums and gauges as last values in memory, and
 * written at most once per `flushMs` (Monitoring accepts one point per series per
 * 5 s at most). Histogram observations are written as gauges of the last value.
 */
export class CloudMonitoringSink implements MetricsSink {
  private readonly points = new Map<string, Point>();
  private readonly client: MetricServiceClient;
  private timer: NodeJS.Timeout | undefined;
  /** Cumulative series start when this process started counting. */
  private readonly startTime = { seconds: Math.floor(Date.now() / 1000) };

  constructor(
    private readonly projectId: string,
    private readonly log: Logger,
    flushMs = 60_000,
    client?: MetricServiceClient,
  ) {
    this.client = client ?? new MetricServiceClient();
    this.timer = setInterval(() => void this.flush(), flushMs);
    this.timer.unref();
  }

  private put(name: MetricName, labels: MetricLabels, f: (old: number) => number): void {
    const key = `${name}${JSON.stringify(labels)}`;
    const old = this.points.get(key)?.value ?? 0;
    this.points.set(key, { name, labels, value: f(old) });
  }

  inc(name: MetricName, labels: MetricLabels = {}, by = 1): void {
    this.put(name, labels, (old) => old + by);
  }

  set(name: MetricName, value: number, labels: MetricLabels = {}): void {
    this.put(name, labels, () => value);
  }

  observe(name: MetricName, value: number, labels: MetricLabels = {}): void {
    this.put(name, labels, () => value);
  }

  async flush(): Promise<void> {
    const now = { seconds: Math.floor(Date.now() / 1000) };
    const timeSeries = [...this.points.values()].map((p) => ({
      metric: { type: `custom.googleapis.com/fleetforge/${p.name}`, labels: p.labels },
      resource: { type: 'global', labels: { project_id: this.projectId } },
      metricKind: METRICS[p.name].type === 'counter' ? ('CUMULATIVE' as const) : ('GAUGE' as const),
      points: [
        {
          interval: { endTime: now, ...(METRICS[p.name].type === 'counter' ? { startTime: this.startTime } : {}) },
          value: { doubleValue: p.value },
        },
      ],
    }));
    if (timeSeries.length === 0) return;
    try {
      for (let i = 0; i < timeSeries.length; i += 200) {
        await this.client.createTimeSeries({
          name: `projects/${this.projectId}`,
          timeSeries: timeSeries.slice(i, i + 200),
        });
      }
    } catch (err) {
      this.log.warn({ err }, 'cloud monitoring write failed; points kept for the next flush');
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
