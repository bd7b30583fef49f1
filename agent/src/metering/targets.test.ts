import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { totalQuantities, type CellRuntimeStatus, type Driver, type Tier } from '@fleetforge/shared';
import { MemoryBus } from '@fleetforge/shared/testing';
import { ProcessDriver } from '../drivers/process-driver';
import type { ObservedNamespace } from '../tenancy/kube-tenants';
import { NoClusterExecutor } from '../tenancy/tenant-agent';
import { UsageMeter } from './meter';
import { cellTargets, tenantTargets, type TargetOptions } from './targets';

const PLATFORM: TargetOptions = { tenant: 'platform', tier: 'standard', podCpuMillicores: 100, podMemoryBytes: 0 };

/** A driver that only lists (the Kubernetes path of cellTargets). */
function listing(cells: Array<Partial<CellRuntimeStatus> & { cell: string }>): Driver {
  const status = cells.map((c) => ({ world: 'w1', incarnation: 1, phase: 'ready' as const, endpoint: null, ...c }));
  return { name: 'stub', list: () => status } as unknown as Driver;
}

describe('cellTargets: whom each cell is billed to', () => {
  it.each<[string, { tenant?: string | null; tier?: Tier | null }, [string, Tier]]>([
    ["a world's tenant, on that tenant's tier", { tenant: 'acme', tier: 'dedicated' }, ['acme', 'dedicated']],
    ['a dev tenant stays dev', { tenant: 'sandbox', tier: 'dev' }, ['sandbox', 'dev']],
    [
      'no tenant (a world naming none): the platform tenant and tier',
      { tenant: null, tier: null },
      ['platform', 'standard'],
    ],
    ['a driver that does not say (absent): the platform tenant', {}, ['platform', 'standard']],
    [
      'a tenant whose tier was unknown at start: the platform tier',
      { tenant: 'gone', tier: null },
      ['gone', 'standard'],
    ],
  ])('%s', (_what, billing, [tenant, tier]) => {
    const [t] = cellTargets(listing([{ cell: 'r0c0', ...billing }]), PLATFORM)();
    expect(t).toMatchObject({ key: 'w1/r0c0/1', tenant, tier, world: 'w1', source: 'kubernetes', estimated: true });
  });

  it('leaves stopping cells out', () => {
    const targets = cellTargets(listing([{ cell: 'a' }, { cell: 'b', phase: 'stopping' }]), PLATFORM)();
    expect(targets.map((t) => t.key)).toEqual(['w1/a/1']);
  });

  it('process driver: a restarted agent adopts cells with whom they are billed to; records from before tenants are the platform tenant', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'ff-targets-'));
    mkdirSync(join(stateDir, 'cells'), { recursive: true });
    // This test process stands in for the cells: alive, never answering (nothing here is ever signalled).
    const record = (cell: string, extra: Record<string, unknown>) =>
      writeFileSync(
        join(stateDir, 'cells', `w1~${cell}~1.json`),
        JSON.stringify({
          world: 'w1',
          cell,
          incarnation: 1,
          correlationId: 'c',
          pid: process.pid,
          spawnedAt: new Date().toISOString(),
          ...extra,
        }),
      );
    record('r0c0', { tenant: 'acme', tier: 'dedicated' });
    record('r0c1', {});
    const driver = new ProcessDriver({ stateDir, pollMs: 60_000 });
    try {
      await driver.adopt();
      const targets = cellTargets(driver, PLATFORM)().sort((a, b) => a.key.localeCompare(b.key));
      expect(targets.map((t) => [t.key, t.tenant, t.tier, t.source, t.estimated])).toEqual([
        ['w1/r0c0/1', 'acme', 'dedicated', 'process', false],
        ['w1/r0c1/1', 'platform', 'standard', 'process', false],
      ]);
      expect(driver.list().map((c) => [c.cell, c.tenant, c.tier])).toEqual(
        expect.arrayContaining([
          ['r0c0', 'acme', 'dedicated'],
          ['r0c1', null, null],
        ]),
      );
    } finally {
      await driver.close();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});

const NOW = Date.parse('2026-11-21T10:00:00.000Z');

function ns(over: Partial<ObservedNamespace> & Pick<ObservedNamespace, 'tenant' | 'namespace'>): ObservedNamespace {
  return {
    tier: 'dev',
    at: NOW,
    pods: 2,
    cpuRequestMillis: 200,
    memoryRequestMiB: 64,
    vcluster: null,
    ...over,
  };
}

describe('tenantTargets: tenant namespaces and vclusters as the executor last saw them', () => {
  const healthy = { server: 'https://vc', healthy: true, healthySince: NOW - 30_000 };
  it.each<[string, ObservedNamespace[], Array<[string, string, Tier, unknown]>]>([
    ['nothing observed (the process driver: no cluster, no vclusters)', [], []],
    [
      'a dev namespace: its pods only',
      [ns({ tenant: 'sandbox', namespace: 'tenant-sandbox' })],
      [
        [
          'pods:tenant-sandbox',
          'sandbox',
          'dev',
          { kind: 'rate', cpuMillicores: 200, memoryBytes: 64 * 2 ** 20, pods: 2 },
        ],
      ],
    ],
    [
      'a standard tenant whose vcluster is healthy: its pods and its vcluster, up since the probe first saw it healthy',
      [ns({ tenant: 'acme', namespace: 'vc-acme', tier: 'standard', vcluster: healthy })],
      [
        ['pods:vc-acme', 'acme', 'standard', expect.objectContaining({ kind: 'rate' })],
        ['vcluster:acme', 'acme', 'standard', { kind: 'vcluster', upSince: NOW - 30_000 }],
      ],
    ],
    [
      'a vcluster not healthy: not up',
      [
        ns({
          tenant: 'acme',
          namespace: 'vc-acme',
          tier: 'standard',
          vcluster: { server: 'https://vc', healthy: false, healthySince: null },
        }),
      ],
      [
        ['pods:vc-acme', 'acme', 'standard', expect.objectContaining({ kind: 'rate' })],
        ['vcluster:acme', 'acme', 'standard', { kind: 'vcluster', upSince: null }],
      ],
    ],
    [
      'an upgrade under way: the dev namespace stays dev, the vcluster is standard, one vcluster',
      [
        ns({ tenant: 'acme', namespace: 'tenant-acme', tier: 'dev' }),
        ns({ tenant: 'acme', namespace: 'vc-acme', tier: 'standard', vcluster: healthy }),
      ],
      [
        ['pods:tenant-acme', 'acme', 'dev', expect.objectContaining({ kind: 'rate' })],
        ['pods:vc-acme', 'acme', 'standard', expect.objectContaining({ kind: 'rate' })],
        ['vcluster:acme', 'acme', 'standard', expect.objectContaining({ kind: 'vcluster' })],
      ],
    ],
    [
      'an observation older than maxAge (sampling stalled): nothing, a gap',
      [ns({ tenant: 'acme', namespace: 'vc-acme', tier: 'standard', vcluster: healthy, at: NOW - 15_001 })],
      [],
    ],
  ])('%s', (_what, observed, expected) => {
    const targets = tenantTargets(() => observed, { maxAgeMs: 15_000, now: () => NOW })();
    expect(targets.map((t) => [t.key, t.tenant, t.tier, t.read()])).toEqual(expected);
    expect(targets.every((t) => t.world === null && t.source === 'kubernetes')).toBe(true);
    expect(targets.filter((t) => t.key.startsWith('pods:')).every((t) => t.estimated)).toBe(true);
    expect(targets.filter((t) => t.key.startsWith('vcluster:')).every((t) => !t.estimated)).toBe(true);
  });

  it('the process driver has no cluster: its tenant executor observes nothing to meter', () => {
    const executor = new NoClusterExecutor();
    expect(tenantTargets(() => executor.observed(), { maxAgeMs: 15_000 })()).toEqual([]);
  });

  it('meters a standard tenant through the executor observing its vcluster up, down and up again', () => {
    let t = NOW;
    let observed: ObservedNamespace[] = [];
    const see = (healthySince: number | null) =>
      (observed = [
        ns({
          tenant: 'acme',
          namespace: 'vc-acme',
          tier: 'standard',
          at: t,
          pods: 1,
          cpuRequestMillis: 100,
          memoryRequestMiB: 0,
          vcluster: { server: 'https://vc', healthy: healthySince !== null, healthySince },
        }),
      ]);
    const meter = new UsageMeter({
      agentId: 'a',
      bus: new MemoryBus(),
      log: pino({ level: 'silent' }),
      now: () => t,
      targets: tenantTargets(() => observed, { maxAgeMs: 15_000, now: () => t }),
    });
    // 10:00:00 up (since 09:59:00), 10:00:10 up, 10:00:20 down, 10:00:30 up again (since 10:00:25), 10:00:40 up.
    for (const [s, since] of [
      [0, NOW - 60_000],
      [10, NOW - 60_000],
      [20, null],
      [30, NOW + 25_000],
      [40, NOW + 25_000],
    ] as const) {
      t = NOW + s * 1000;
      see(since);
      meter.tick();
    }
    const samples = meter.tick();
    const vc = samples.filter((x) => x.id.includes('vcluster'));
    const pods = samples.filter((x) => x.id.includes('pods'));
    // Up 10:00:00–10:00:10 and 10:00:30–10:00:40 at two readings each: 20 s, never the down time.
    expect(totalQuantities(vc).vclusterMillis).toBe(20_000);
    expect(vc.every((x) => x.tenant === 'acme' && x.tier === 'standard')).toBe(true);
    // The pods ran the whole 40 s, vcluster or not.
    expect(totalQuantities(pods)).toMatchObject({ cellMillis: 40_000, cpuMillis: 4000, vclusterMillis: 0 });
  });
});
