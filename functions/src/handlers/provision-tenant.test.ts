import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import {
  TOPICS,
  TenantCommandSchema,
  TenantDocSchema,
  TenantObservationSchema,
  paths,
  type PoolNode,
  type TenantDoc,
  type TenantMessage,
  type TenantObservation,
  type TenantSpec,
} from '@fleetforge/shared';
import { FakeClock, MemoryBus, MemoryStateStore, RecordingMetricsSink, SeqIds } from '@fleetforge/shared/testing';
import { testDeps } from '../deps';
import { provisionTenant } from './provision-tenant';

const START = '2026-03-01T10:00:00.000Z';

/** A local pager: records every POST it receives. */
interface Page {
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}
let pager: Server;
let pagerUrl: string;
const pages: Page[] = [];

beforeAll(async () => {
  pager = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      pages.push({
        headers: req.headers,
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
      });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => pager.listen(0, '127.0.0.1', resolve));
  pagerUrl = `http://127.0.0.1:${(pager.address() as AddressInfo).port}/page`;
});

afterAll(async () => {
  pager.closeAllConnections();
  await new Promise<void>((resolve) => pager.close(() => resolve()));
});

beforeEach(() => {
  pages.length = 0;
});

function setup() {
  const store = new MemoryStateStore();
  const bus = new MemoryBus();
  const metrics = new RecordingMetricsSink();
  const clock = new FakeClock(START);
  const log = pino({ level: 'silent' });
  const deps = testDeps({ store, bus, metrics, clock, log, ids: new SeqIds() });
  const run = (msg: TenantMessage) => provisionTenant(deps, msg, log, { alertWebhook: pagerUrl });
  const reconcile = (tenant: string) => run({ kind: 'reconcile', tenant, reason: 'test', correlationId: 'corr-rec' });
  const observe = (tenant: string, observation: TenantObservation, correlationId = 'corr-obs') =>
    run({ kind: 'observed', tenant, agentId: 'agent-1', at: clock.now().toISOString(), correlationId, observation });
  const put = (doc: TenantDoc) => store.set(paths.tenant(doc.spec.name), doc);
  const get = async (name: string) => {
    const data = await store.get(paths.tenant(name));
    return data === undefined ? undefined : TenantDocSchema.parse(data);
  };
  const events = async () => (await store.list('events')).map((d) => d.data);
  const commands = () => bus.payloads(TOPICS.tenantCommands);
  return { store, bus, metrics, clock, run, reconcile, observe, put, get, events, commands };
}

interface DocOver {
  spec?: Partial<TenantSpec>;
  status?: Partial<TenantDoc['status']>;
  generation?: number;
  desired?: TenantDoc['desired'];
  action?: TenantDoc['action'];
  upgrade?: TenantDoc['upgrade'];
}

function tenant(name: string, over: DocOver = {}): TenantDoc {
  return TenantDocSchema.parse({
    spec: { name, tier: 'dev', billingId: `bill-${name}`, admin: `ops@${name}`, poolNodes: 2, ...over.spec },
    generation: over.generation ?? 1,
    desired: over.desired ?? 'present',
    action: over.action ?? 'apply',
    upgrade: over.upgrade ?? null,
    correlationId: 'corr-create',
    createdAt: START,
    createdBy: 'token:admin',
    updatedAt: START,
    status: { phase: 'Pending', ...over.status },
  });
}

const node = (name: string, cpuPct: number, memPct: number): PoolNode => ({
  name,
  ready: true,
  cpuMillis: 4000,
  memoryMiB: 8192,
  requestedCpuMillis: (4000 * cpuPct) / 100,
  requestedMemoryMiB: (8192 * memPct) / 100,
});
const poolSample = (at: string, ...nodes: PoolNode[]): TenantObservation => ({ kind: 'pool', pool: { at, nodes } });

/** A progress observation, with the schema's defaults for what it does not say. */
const progress = (over: Record<string, unknown>): TenantObservation =>
  TenantObservationSchema.parse({ kind: 'progress', generation: 1, phase: 'Ready', ...over });

describe('provisionTenant: reconcile', () => {
  it('sends the command for an unobserved generation, and nothing once it is observed', async () => {
    const t = setup();
    await t.put(tenant('acme'));

    expect(await t.reconcile('acme')).toBe('ok');
    expect(t.commands()).toHaveLength(1);
    const cmd = TenantCommandSchema.parse(t.commands()[0]);
    expect(cmd).toMatchObject({ commandId: 'acme-g1-apply', tenant: 'acme', generation: 1, action: 'apply' });
    expect(t.bus.published.find((p) => p.topic === TOPICS.tenantCommands)?.message.attributes).toEqual({
      tenant: 'acme',
    });

    // Level-based: a repeated request re-sends the same command (same id, the agent's idempotency key).
    expect(await t.reconcile('acme')).toBe('ok');
    expect(t.commands().map((c) => (c as { commandId: string }).commandId)).toEqual(['acme-g1-apply', 'acme-g1-apply']);

    expect(await t.observe('acme', progress({ generation: 1, phase: 'Ready' }))).toBe('ok');
    expect(await t.reconcile('acme')).toBe('stale');
    expect(t.commands()).toHaveLength(2);
  });

  it('sends the next generation with its action and failAt', async () => {
    const t = setup();
    await t.put(
      tenant('acme', {
        generation: 2,
        action: 'upgrade',
        upgrade: { to: 'standard', failAt: 'provision', requestedAt: START },
        status: { phase: 'Ready', observedGeneration: 1 },
      }),
    );
    expect(await t.reconcile('acme')).toBe('ok');
    expect(t.commands()).toEqual([
      expect.objectContaining({ commandId: 'acme-g2-upgrade', action: 'upgrade', generation: 2, failAt: 'provision' }),
    ]);
  });

  it('is stale for an unknown tenant', async () => {
    const t = setup();
    expect(await t.reconcile('ghost')).toBe('stale');
    expect(t.commands()).toEqual([]);
  });
});

describe('provisionTenant: observations', () => {
  it('a hot dedicated pool pages once, records a PoolAlert and sets the pool gauges', async () => {
    const t = setup();
    await t.put(tenant('big', { spec: { tier: 'dedicated', billingId: 'acct-9' }, status: { phase: 'Ready' } }));

    const hot = poolSample(START, node('n1', 90, 25), node('n2', 90, 25));
    expect(await t.observe('big', hot, 'corr-pool-1')).toBe('ok');

    expect(pages).toHaveLength(1);
    expect(pages[0]!.headers['x-correlation-id']).toBe('corr-pool-1');
    expect(pages[0]!.headers['content-type']).toBe('application/json');
    expect(pages[0]!.body).toEqual({
      alert: 'PoolCpuHigh',
      severity: 'page',
      tenant: 'big',
      tier: 'dedicated',
      billingId: 'acct-9',
      message: 'pool CPU requests at 90% of allocatable (threshold 80%)',
      value: 0.9,
      since: START,
      correlationId: 'corr-pool-1',
      runbook: 'docs/runbooks/dedicated-pool-alerts.md',
    });

    expect(await t.events()).toEqual([
      expect.objectContaining({
        type: 'PoolAlert',
        severity: 'Warning',
        tenant: 'big',
        reason: 'PoolCpuHigh',
        principal: 'agent:agent-1',
        correlationId: 'corr-pool-1',
        data: expect.objectContaining({ tenant: 'big', tier: 'dedicated', billingId: 'acct-9', value: 0.9 }),
      }),
    ]);
    expect((await t.get('big'))?.status.alerts).toEqual([
      expect.objectContaining({ kind: 'PoolCpuHigh', since: START }),
    ]);

    const gauge = (name: Parameters<typeof t.metrics.value>[0], resource?: string) =>
      t.metrics.value(name, resource ? { tenant: 'big', resource } : { tenant: 'big' });
    expect(gauge('fleetforge_tenant_pool_nodes')).toBe(2);
    expect(gauge('fleetforge_tenant_pool_utilization_ratio', 'cpu')).toBeCloseTo(0.9);
    expect(gauge('fleetforge_tenant_pool_utilization_ratio', 'memory')).toBeCloseTo(0.25);
    expect(gauge('fleetforge_tenant_pool_headroom', 'cpu')).toBe(800);
    expect(gauge('fleetforge_tenant_pool_headroom', 'memory')).toBe(12288);

    // The same sample a minute later: still active, no second page, no second event.
    t.clock.advance(60_000);
    const later = t.clock.now().toISOString();
    expect(await t.observe('big', poolSample(later, node('n1', 90, 25), node('n2', 90, 25)), 'corr-pool-2')).toBe('ok');
    expect(pages).toHaveLength(1);
    expect((await t.events()).filter((e) => e.type === 'PoolAlert')).toHaveLength(1);
    expect((await t.get('big'))?.status.alerts).toEqual([
      expect.objectContaining({ kind: 'PoolCpuHigh', since: START }),
    ]);
    expect((await t.get('big'))?.status.pool?.at).toBe(later);
  });

  it('a healthy pool pages nothing but still sets the gauges', async () => {
    const t = setup();
    await t.put(tenant('big', { spec: { tier: 'dedicated' }, status: { phase: 'Ready' } }));
    expect(await t.observe('big', poolSample(START, node('n1', 10, 10), node('n2', 30, 10)))).toBe('ok');
    expect(pages).toEqual([]);
    expect(await t.events()).toEqual([]);
    expect(t.metrics.value('fleetforge_tenant_pool_utilization_ratio', { tenant: 'big', resource: 'cpu' })).toBeCloseTo(
      0.2,
    );
  });

  it('Ready: TenantReady once, with the ready time observed by tier', async () => {
    const t = setup();
    await t.put(tenant('acme'));
    const ready: TenantObservation = progress({ phase: 'Ready', readyMs: 2500, namespace: 'tenant-acme' });
    expect(await t.observe('acme', ready)).toBe('ok');
    expect(await t.observe('acme', ready)).toBe('ok');
    expect((await t.events()).map((e) => e.type)).toEqual(['TenantReady']);
    expect(await t.get('acme')).toMatchObject({ status: { phase: 'Ready', observedGeneration: 1, readyMs: 2500 } });
    expect(t.metrics.observations.get('fleetforge_tenant_ready_seconds{tier=dev}')?.[0]).toBe(2.5);
  });

  it('Deleted while desired absent removes the document and writes TenantDeleted', async () => {
    const t = setup();
    await t.put(
      tenant('acme', {
        generation: 2,
        desired: 'absent',
        action: 'delete',
        status: { phase: 'Deleting', observedGeneration: 1 },
      }),
    );
    const deleted: TenantObservation = progress({
      generation: 2,
      phase: 'Deleted',
      message: 'namespaces removed, reserved nodes released',
    });
    expect(await t.observe('acme', deleted, 'corr-del')).toBe('ok');
    expect(await t.get('acme')).toBeUndefined();
    expect(await t.events()).toEqual([
      expect.objectContaining({
        type: 'TenantDeleted',
        tenant: 'acme',
        correlationId: 'corr-del',
        principal: 'agent:agent-1',
        message: 'namespaces removed, reserved nodes released',
        data: { tenant: 'acme', tier: 'dev', billingId: 'bill-acme' },
      }),
    ]);
    // A duplicate delivery finds nothing to do.
    expect(await t.observe('acme', deleted, 'corr-del')).toBe('stale');
    expect(await t.events()).toHaveLength(1);
  });

  it('progress for an older generation is stale and writes nothing', async () => {
    const t = setup();
    const doc = tenant('acme', {
      generation: 2,
      action: 'upgrade',
      status: { phase: 'Upgrading', observedGeneration: 1 },
    });
    await t.put(doc);
    const late: TenantObservation = progress({ generation: 1, phase: 'Failed' });
    expect(await t.observe('acme', late)).toBe('stale');
    expect(await t.get('acme')).toEqual(doc);
    expect(await t.events()).toEqual([]);
  });

  it.each<[string, TenantObservation]>([
    ['progress', progress({ generation: 1, phase: 'Ready' })],
    ['pool', poolSample(START, node('n1', 95, 95))],
    [
      'usage',
      TenantObservationSchema.parse({
        kind: 'usage',
        usage: { at: START, pods: 1, runningPods: 1, cpuRequestMillis: 1, memoryRequestMiB: 1 },
      }),
    ],
  ])(
    'an observation (%s) for an unknown tenant is stale: no document, no event, no page, no gauge',
    async (_k, obs) => {
      const t = setup();
      expect(await t.observe('ghost', obs)).toBe('stale');
      expect(await t.get('ghost')).toBeUndefined();
      expect(await t.events()).toEqual([]);
      expect(pages).toEqual([]);
      expect(t.metrics.value('fleetforge_tenant_pool_nodes', { tenant: 'ghost' })).toBeUndefined();
    },
  );
});
