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
