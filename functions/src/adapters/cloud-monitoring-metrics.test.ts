import pino from 'pino';
import { CloudMonitoringSink, type TimeSeriesWriter } from './cloud-monitoring-metrics';

interface Written {
  metric: { type: string; labels: Record<string, string> };
  resource: { type: string; labels: Record<string, string> };
  metricKind: string;
  valueType: string;
  points: Array<{
    interval: { startTime?: { seconds: number }; endTime: { seconds: number } };
    value: {
      doubleValue?: number;
      distributionValue?: {
        count: number;
        mean: number;
        sumOfSquaredDeviation: number;
        bucketOptions: { explicitBuckets: { bounds: number[] } };
        bucketCounts: number[];
      };
    };
  }>;
}

/** A fake Monitoring client that records each createTimeSeries request (or fails on demand). */
function fakeClient() {
  const calls: Array<{ name: string; timeSeries: Written[] }> = [];
  let failing = false;
  const client = {
    createTimeSeries: (req: { name: string; timeSeries: Written[] }) => {
      if (failing) return Promise.reject(new Error('UNAVAILABLE'));
      calls.push(req);
      return Promise.resolve([{}]);
    },
  } as unknown as TimeSeriesWriter;
  return { client, calls, fail: (f: boolean) => (failing = f) };
}

function sink(fake: ReturnType<typeof fakeClient>, taskId: string, clock: { t: number }) {
  return new CloudMonitoringSink('demo-project', pino({ level: 'silent' }), {
    client: fake.client,
    resource: { location: 'europe-west1', job: 'reconcileWorld', taskId },
    flushMs: 0,
    now: () => clock.t,
  });
}

describe('CloudMonitoringSink', () => {
  it('writes each instance under its own generic_task, so two instances never share a series', async () => {
    const fake = fakeClient();
    const clock = { t: 1_000_000 };
    const a = sink(fake, 'rev-1-a', clock);
    const b = sink(fake, 'rev-1-b', clock);
    a.inc('fleetforge_messages_total', { function: 'reconcileWorld', outcome: 'ok' });
    b.inc('fleetforge_messages_total', { function: 'reconcileWorld', outcome: 'ok' });
    await a.flush();
    await b.flush();
    const resources = fake.calls.flatMap((c) => c.timeSeries.map((s) => s.resource));
    expect(resources).toEqual([
      {
        type: 'generic_task',
        labels: {
          project_id: 'demo-project',
          location: 'europe-west1',
          namespace: 'fleetforge',
          job: 'reconcileWorld',
          task_id: 'rev-1-a',
        },
      },
      expect.objectContaining({ labels: expect.objectContaining({ task_id: 'rev-1-b' }) }),
    ]);
    expect(fake.calls[0]!.name).toBe('projects/demo-project');
  });

  it('writes counters as cumulative sums from the instance start, gauges as last values', async () => {
    const fake = fakeClient();
    const clock = { t: 1_000_000 };
    const s = sink(fake, 't', clock);
    s.inc('fleetforge_messages_total', { function: 'f', outcome: 'ok' });
    s.inc('fleetforge_messages_total', { function: 'f', outcome: 'ok' }, 2);
    s.set('fleetforge_cells_active', 4, { world: 'w' });
    s.set('fleetforge_cells_active', 3, { world: 'w' });
    clock.t += 30_000;
    await s.flush();
    const [counter, gauge] = fake.calls[0]!.timeSeries;
    expect(counter).toMatchObject({
      metric: {
        type: 'custom.googleapis.com/fleetforge/fleetforge_messages_total',
        labels: { function: 'f', outcome: 'ok' },
      },
      metricKind: 'CUMULATIVE',
      valueType: 'DOUBLE',
      points: [{ interval: { startTime: { seconds: 1000 }, endTime: { seconds: 1030 } }, value: { doubleValue: 3 } }],
    });
    expect(gauge).toMatchObject({ metricKind: 'GAUGE', points: [{ value: { doubleValue: 3 } }] });
    expect(gauge!.points[0]!.interval.startTime).toBeUndefined();
  });

  it('writes histograms as distributions over the catalogue buckets', async () => {
    const fake = fakeClient();
    const s = sink(fake, 't', { t: 0 });
    for (const v of [0.01, 0.3, 0.3, 100]) s.observe('fleetforge_reconcile_duration_seconds', v);
    await s.flush();
    const [series] = fake.calls[0]!.timeSeries;
    expect(series).toMatchObject({ metricKind: 'CUMULATIVE', valueType: 'DISTRIBUTION' });
    const d = series!.points[0]!.value.distributionValue!;
    const bounds = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60];
    expect(d.bucketOptions.explicitBuckets.bounds).toEqual(bounds);
    // Below 0.05; two in [0.25, 0.5); one at or above 60.
    expect(d.bucketCounts).toEqual([1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect(d.count).toBe(4);
    expect(d.mean).toBeCloseTo(25.1525, 6);
    const values = [0.01, 0.3, 0.3, 100];
    const ss = values.reduce((acc, v) => acc + (v - d.mean) ** 2, 0);
    expect(d.sumOfSquaredDeviation).toBeCloseTo(ss, 6);
  });

  it('writes at most once per interval, and only what changed since the last write', async () => {
    const fake = fakeClient();
    const clock = { t: 0 };
    const s = sink(fake, 't', clock);
    s.set('fleetforge_cells_active', 2, { world: 'w' });
    s.set('fleetforge_worlds_ready', 1, { world: 'w' });
    await s.flush();
    s.set('fleetforge_cells_active', 3, { world: 'w' });
    clock.t += 2_000;
    await s.flush(); // Within 10 s of the last write: Monitoring would reject the point.
    expect(fake.calls).toHaveLength(1);
    clock.t += 10_000;
    await s.flush();
    expect(fake.calls).toHaveLength(2);
    // The untouched gauge is not re-asserted: it goes stale with the instance that set it.
    expect(
      fake.calls[1]!.timeSeries.map((t) => [t.metric.type.split('/').pop(), t.points[0]!.value.doubleValue]),
    ).toEqual([['fleetforge_cells_active', 3]]);
    clock.t += 10_000;
    await s.flush();
    expect(fake.calls).toHaveLength(2);
  });

  it('keeps the points of a failed write for the next flush', async () => {
    const fake = fakeClient();
    const clock = { t: 0 };
    const s = sink(fake, 't', clock);
    s.inc('fleetforge_splits_total', { world: 'w' });
    fake.fail(true);
    await expect(s.flush()).resolves.toBeUndefined();
    fake.fail(false);
    await s.flush();
    expect(fake.calls.flatMap((c) => c.timeSeries.map((t) => t.points[0]!.value.doubleValue))).toEqual([1]);
  });
});
