import { randomUUID } from 'node:crypto';
import { MetricServiceClient } from '@google-cloud/monitoring';
import { METRICS, type MetricDef, type MetricLabels, type MetricName, type MetricsSink } from '@fleetforge/shared';
import type { Logger } from '../log';

/** The part of the Monitoring client the sink uses, so tests can fake it. */
export type TimeSeriesWriter = Pick<MetricServiceClient, 'createTimeSeries'>;

/** The Cloud Monitoring resource one function instance writes as. */
export interface TaskResource {
  /** A Google Cloud region, or 'global'. */
  location: string;
  /** The function (Cloud Run service) name. */
  job: string;
  /** Unique per instance: two instances never write the same series. */
  taskId: string;
}

export interface CloudMonitoringOptions {
  client?: TimeSeriesWriter;
  resource?: Partial<TaskResource>;
  /** Background flush period; CPU is throttled between requests, so request ends flush too. */
  flushMs?: number;
  /** Monitoring rejects a second point of one series within 5 s; flushes closer than this write nothing. */
  minIntervalMs?: number;
  now?: () => number;
}

interface Distribution {
  count: number;
  mean: number;
  /** Welford's running sum of squared deviations from the mean. */
  m2: number;
  bucketCounts: number[];
}

interface Series {
  name: MetricName;
  labels: MetricLabels;
  value: number;
  dist?: Distribution;
  /** Changed since the last write. Untouched gauges are not re-asserted, so a value goes stale with its writer. */
  dirty: boolean;
}

type Seconds = { seconds: number; nanos: number };
const toTime = (ms: number): Seconds => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 });

/** Default instance identity on Cloud Run (functions gen2): service, revision, and a random suffix. */
export function defaultTaskResource(env: NodeJS.ProcessEnv = process.env): TaskResource {
  return {
    location: 'global',
    job: env.K_SERVICE ?? 'fleetforge',
    taskId: `${env.K_REVISION ?? 'local'}-${randomUUID()}`,
  };
}

/**
 * MetricsSink on Cloud Monitoring custom metrics (`custom.googleapis.com/fleetforge/…`).
 *
 * Every series is written under a `generic_task` resource whose `task_id` is unique
 * to this instance: concurrent instances each own their series instead of
 * overwriting one shared series (alert policies and the dashboard reduce across
 * task_id). Counters are cumulative from the instance's start; histograms are
 * cumulative distributions with the catalogue's buckets; gauges are last values.
 * Points are buffered and written by `flush()`, which the function entry points
 * call before answering, since CPU is throttled once a request has ended.
 */
export class CloudMonitoringSink implements MetricsSink {
  private readonly series = new Map<string, Series>();
  private readonly client: TimeSeriesWriter;
  private readonly resource: TaskResource;
  private readonly minIntervalMs: number;
  private readonly now: () => number;
  private readonly startMs: number;
  private lastWriteMs = Number.NEGATIVE_INFINITY;
  private writing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly projectId: string,
    private readonly log: Logger,
    opts: CloudMonitoringOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.startMs = this.now();
    this.minIntervalMs = opts.minIntervalMs ?? 10_000;
    this.resource = { ...defaultTaskResource(), ...opts.resource };
    // The client connects on its first call, not here.
    this.client = opts.client ?? new MetricServiceClient();
    if (opts.flushMs !== 0) {
      this.timer = setInterval(() => void this.flush(), opts.flushMs ?? 60_000);
      this.timer.unref();
    }
  }

  private entry(name: MetricName, labels: MetricLabels): Series {
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { name, labels, value: 0, dirty: false }));
    s.dirty = true;
    return s;
  }

  inc(name: MetricName, labels: MetricLabels = {}, by = 1): void {
    this.entry(name, labels).value += by;
  }

  set(name: MetricName, value: number, labels: MetricLabels = {}): void {
    this.entry(name, labels).value = value;
  }

  observe(name: MetricName, value: number, labels: MetricLabels = {}): void {
    const bounds = (METRICS[name] as MetricDef).buckets ?? [];
    const s = this.entry(name, labels);
    const d = (s.dist ??= { count: 0, mean: 0, m2: 0, bucketCounts: new Array<number>(bounds.length + 1).fill(0) });
    d.count += 1;
    const delta = value - d.mean;
    d.mean += delta / d.count;
    d.m2 += delta * (value - d.mean);
    // Bucket 0 is (-inf, bounds[0]); bucket i is [bounds[i-1], bounds[i]); the last is [bounds[n-1], +inf).
    const i = bounds.findIndex((b) => value < b);
    d.bucketCounts[i === -1 ? bounds.length : i]! += 1;
  }

  /**
   * Writes every series changed since the last write. Closer than `minIntervalMs`
   * to the last write it writes nothing (the points wait for a later flush: counters
   * and distributions are cumulative, so nothing is lost). A failed write is
   * logged and retried by the next flush.
   */
  async flush(): Promise<void> {
    if (this.writing) return this.writing;
    const now = this.now();
    if (now - this.lastWriteMs < this.minIntervalMs) return;
    const dirty = [...this.series.values()].filter((s) => s.dirty);
    if (dirty.length === 0) return;
    this.writing = this.write(dirty, now).finally(() => (this.writing = undefined));
    return this.writing;
  }

  private async write(dirty: Series[], now: number): Promise<void> {
    const timeSeries = dirty.map((s) => this.timeSeries(s, now));
    try {
      // createTimeSeries takes at most 200 series per call.
      for (let i = 0; i < timeSeries.length; i += 200) {
        await this.client.createTimeSeries({
          name: `projects/${this.projectId}`,
          timeSeries: timeSeries.slice(i, i + 200),
        });
      }
      for (const s of dirty) s.dirty = false;
      this.lastWriteMs = now;
    } catch (err) {
      this.log.warn(
        { err: String(err), series: timeSeries.length },
        'cloud monitoring write failed; kept for the next flush',
      );
    }
  }

  private timeSeries(s: Series, now: number) {
    const def: MetricDef = METRICS[s.name];
    const cumulative = def.type !== 'gauge';
    const interval = { endTime: toTime(now), ...(cumulative ? { startTime: toTime(this.startMs) } : {}) };
    const bounds = [...(def.buckets ?? [])];
    const value = s.dist
      ? {
          distributionValue: {
            count: s.dist.count,
            mean: s.dist.mean,
            sumOfSquaredDeviation: s.dist.m2,
            bucketOptions: { explicitBuckets: { bounds } },
            bucketCounts: [...s.dist.bucketCounts],
          },
        }
      : { doubleValue: s.value };
    return {
      metric: { type: `custom.googleapis.com/fleetforge/${s.name}`, labels: s.labels },
      resource: {
        type: 'generic_task',
        labels: {
          project_id: this.projectId,
          location: this.resource.location,
          namespace: 'fleetforge',
          job: this.resource.job,
          task_id: this.resource.taskId,
        },
      },
      metricKind: cumulative ? ('CUMULATIVE' as const) : ('GAUGE' as const),
      valueType: s.dist ? ('DISTRIBUTION' as const) : ('DOUBLE' as const),
      points: [{ interval, value }],
    };
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
