import pino from 'pino';
import { TOPICS, UsageReportSchema, rollup, totalQuantities, type UsageSample } from '@fleetforge/shared';
import { MemoryBus } from '@fleetforge/shared/testing';
import { UsageMeter, type MeterTarget } from './meter';
import { readProc } from './procfs';

const log = pino({ level: 'silent' });

function target(key: string, read: MeterTarget['read'], over: Partial<MeterTarget> = {}): MeterTarget {
  return { key, tenant: 'acme', tier: 'standard', world: 'w1', source: 'process', estimated: false, read, ...over };
}

describe('readProc', () => {
  it('measures this real process: CPU time grows while it spins, RSS is positive', () => {
    const before = readProc(process.pid)!;
    const until = Date.now() + 150;
    let x = 0;
    while (Date.now() < until) x += Math.sqrt(x + 1);
    const after = readProc(process.pid)!;
    expect(x).toBeGreaterThan(0);
    expect(after.cpuMillisTotal).toBeGreaterThan(before.cpuMillisTotal);
    expect(after.rssBytes).toBeGreaterThan(1024 * 1024);
    expect(readProc(2 ** 22 + 12345)).toBeUndefined();
  });
});

describe('UsageMeter', () => {
  it('turns readings into samples cut at the hour, with stable ids; a failed publish is retried', async () => {
    let t = Date.parse('2026-11-21T23:59:50.000Z');
    let cpu = 0;
    const bus = new MemoryBus();
    const meter = new UsageMeter({
      agentId: 'agent-1',
      bus,
      log,
      now: () => t,
      targets: () => [
        target('w1/r0c0/1', () => ({ kind: 'cumulative', cpuMillisTotal: cpu, rssBytes: 100 * 1024 * 1024 })),
        target('w1/r0c1/1', () => ({ kind: 'rate', cpuMillicores: 100, memoryBytes: 64 * 1024 * 1024 }), {
          source: 'kubernetes',
          estimated: true,
        }),
        // Unreadable (process gone): no sample, nothing invented.
        target('w1/r1c0/1', () => undefined),
      ],
    });
    expect(meter.tick()).toEqual([]); // first reading: a baseline only
    t += 20_000; // crosses midnight
    cpu = 4000;
    const samples: UsageSample[] = [...meter.tick()];
    expect(samples.map((s) => [s.id, s.start, s.end])).toEqual([
      ['agent-1:w1.r0c0.1:1795305590000', '2026-11-21T23:59:50.000Z', '2026-11-22T00:00:00.000Z'],
      ['agent-1:w1.r0c0.1:1795305600000', '2026-11-22T00:00:00.000Z', '2026-11-22T00:00:10.000Z'],
      ['agent-1:w1.r0c1.1:1795305590000', '2026-11-21T23:59:50.000Z', '2026-11-22T00:00:00.000Z'],
      ['agent-1:w1.r0c1.1:1795305600000', '2026-11-22T00:00:00.000Z', '2026-11-22T00:00:10.000Z'],
    ]);
    const proc = samples.filter((s) => s.source === 'process');
    expect(totalQuantities(proc)).toEqual({
      cpuMillis: 4000,
      memoryMiBSeconds: 100 * 20,
      vclusterMillis: 0,
      cellMillis: 20_000,
    });
    // 100 millicores for 20 s = 2000 CPU-ms, estimated.
    const pod = samples.filter((s) => s.source === 'kubernetes');
    expect(totalQuantities(pod).cpuMillis).toBe(2000);
    expect(pod.every((s) => s.estimated)).toBe(true);
    expect(rollup(samples, 'day').lines.map((l) => l.window)).toEqual(['2026-11-21', '2026-11-22']);

    const failing = { ...bus, publish: () => Promise.reject(new Error('down')) } as unknown as MemoryBus;
    const flaky = new UsageMeter({ agentId: 'a', bus: failing, log, now: () => t, targets: () => [] });
    (flaky as unknown as { buffer: UsageSample[] }).buffer = [...samples];
    expect(await flaky.flush()).toBe(0);
    expect(flaky.tick()).toHaveLength(4);

    expect(await meter.flush()).toBe(4);
    const published = bus.payloads(TOPICS.agentReports).map((p) => UsageReportSchema.parse(p));
    expect(published.flatMap((r) => r.samples.map((s) => s.id))).toEqual(samples.map((s) => s.id));
    expect(await meter.flush()).toBe(0);
  });
});

describe('UsageMeter: vcluster time', () => {
  const T0 = Date.parse('2026-11-21T22:59:55.000Z');
  const HOUR = 3_600_000;
  /** One meter tick: seconds after T0, and the vcluster as read then (absent: no target at all). */
  type Step = [seconds: number, upSince: number | null | 'absent'];
  const up = (sinceSeconds: number) => T0 + sinceSeconds * 1000;

  async function run(
    steps: Step[],
    flushEachTick = false,
  ): Promise<{ samples: UsageSample[]; published: UsageSample[] }> {
    let t = T0;
    let reading: number | null | 'absent' = null;
    const bus = new MemoryBus();
    const meter = new UsageMeter({
      agentId: 'agent-1',
      bus,
      log,
      now: () => t,
      targets: () =>
        reading === 'absent'
          ? []
          : [
              target('vcluster:acme', () => ({ kind: 'vcluster', upSince: reading as number | null }), {
                world: null,
                source: 'kubernetes',
              }),
            ],
    });
    let samples: UsageSample[] = [];
    for (const [s, r] of steps) {
      t = T0 + s * 1000;
      reading = r;
      samples = [...meter.tick()];
      // Not awaited, as the meter's timer does: a slow publish overlaps the next tick.
      if (flushEachTick) void meter.flush();
    }
    if (flushEachTick) await meter.flush();
    const published = bus.payloads(TOPICS.agentReports).flatMap((p) => UsageReportSchema.parse(p).samples);
    return { samples, published };
  }

  it.each<[string, Step[], number]>([
    ['the first reading is a baseline only', [[0, up(-60)]], 0],
    [
      'up at every tick, across an hour boundary: exactly the time between the first and last tick',
      [
        [0, up(-60)],
        [10, up(-60)],
        [20, up(-60)],
        [30, up(-60)],
      ],
      30_000,
    ],
    [
      'the same tick twice counts once',
      [
        [0, up(-60)],
        [10, up(-60)],
        [10, up(-60)],
        [20, up(-60)],
      ],
      20_000,
    ],
    [
      'not up at a tick ends the series; up again is a new baseline (down time never billed)',
      [
        [0, up(-60)],
        [10, up(-60)],
        [20, null],
        [30, up(25)],
        [40, up(25)],
      ],
      20_000,
    ],
    [
      'down and up again between two ticks: only from when it came back',
      [
        [0, up(-60)],
        [10, up(7)],
      ],
      3_000,
    ],
    [
      'a vanished target (stale observation, vcluster gone) leaves a gap',
      [
        [0, up(-60)],
        [10, 'absent'],
        [20, up(-60)],
        [30, up(-60)],
      ],
      10_000,
    ],
    [
      'up for two hours between ticks: all of it, cut at each hour',
      [
        [0, up(-60)],
        [7200, up(-60)],
      ],
      7_200_000,
    ],
  ])('%s', async (_what, steps, expected) => {
    for (const flushEachTick of [false, true]) {
      const { samples, published } = await run(steps, flushEachTick);
      const all = flushEachTick ? published : samples;
      expect(totalQuantities(all)).toEqual({
        cpuMillis: 0,
        memoryMiBSeconds: 0,
        vclusterMillis: expected,
        cellMillis: 0,
      });
      // No sample twice, no two samples overlapping, none across an hour boundary.
      expect(new Set(all.map((s) => s.id)).size).toBe(all.length);
      const spans = all.map((s) => [Date.parse(s.start), Date.parse(s.end)] as const).sort((a, b) => a[0] - b[0]);
      spans.forEach(([start, end], i) => {
        expect(end).toBeGreaterThan(start);
        expect(Math.floor(start / HOUR)).toBe(Math.floor((end - 1) / HOUR));
        if (i > 0) expect(start).toBeGreaterThanOrEqual(spans[i - 1]![1]);
      });
      expect(all.every((s) => !s.estimated && s.world === null && s.tenant === 'acme')).toBe(true);
    }
    // Ids derive from (agent, target, start): the same readings give the same ids (a re-sent batch is recognized).
    expect((await run(steps)).samples.map((s) => s.id)).toEqual((await run(steps)).samples.map((s) => s.id));
  });

  it('cuts at the hour: 22:59:55 → 23:00:05 is two samples, in two hourly windows', async () => {
    const { samples } = await run([
      [0, up(-60)],
      [10, up(-60)],
    ]);
    expect(samples.map((s) => [s.id, s.start, s.end, s.vclusterMillis])).toEqual([
      ['agent-1:vcluster:acme:1795301995000', '2026-11-21T22:59:55.000Z', '2026-11-21T23:00:00.000Z', 5000],
      ['agent-1:vcluster:acme:1795302000000', '2026-11-21T23:00:00.000Z', '2026-11-21T23:00:05.000Z', 5000],
    ]);
    expect(rollup(samples, 'hour').lines.map((l) => [l.window, l.vclusterMillis])).toEqual([
      ['2026-11-21T22', 5000],
      ['2026-11-21T23', 5000],
    ]);
  });

  it("counts a tenant's pods as pod time and requests × time, apart from its vcluster's time", () => {
    let t = T0;
    const meter = new UsageMeter({
      agentId: 'agent-1',
      bus: new MemoryBus(),
      log,
      now: () => t,
      targets: () => [
        target('pods:vc-acme', () => ({ kind: 'rate', cpuMillicores: 300, memoryBytes: 96 * 2 ** 20, pods: 3 }), {
          world: null,
          source: 'kubernetes',
          estimated: true,
        }),
        target('vcluster:acme', () => ({ kind: 'vcluster', upSince: T0 - 60_000 }), {
          world: null,
          source: 'kubernetes',
        }),
      ],
    });
    meter.tick();
    t += 20_000;
    const samples = meter.tick();
    const pods = samples.filter((s) => s.id.includes('pods'));
    const vc = samples.filter((s) => s.id.includes('vcluster'));
    expect(totalQuantities(pods)).toEqual({
      cpuMillis: 6000, // 300 millicores for 20 s
      memoryMiBSeconds: 96 * 20,
      vclusterMillis: 0,
      cellMillis: 3 * 20_000, // three pods for 20 s
    });
    expect(pods.every((s) => s.estimated)).toBe(true);
    expect(totalQuantities(vc)).toEqual({ cpuMillis: 0, memoryMiBSeconds: 0, vclusterMillis: 20_000, cellMillis: 0 });
  });
});
