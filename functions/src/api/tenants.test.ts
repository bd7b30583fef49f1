import pino from 'pino';
import { TOPICS, TenantDocSchema, TenantMessageSchema, paths, type Role, type TenantDoc } from '@fleetforge/shared';
import { FakeClock, MemoryBus, MemoryStateStore, RecordingMetricsSink, SeqIds } from '@fleetforge/shared/testing';
import { testDeps } from '../deps';
import { verifyAuditChain } from '../store/records';
import { ApiRouter } from './router';
import { storeToken } from './tokens';

const START = '2026-03-01T10:00:00.000Z';

/** The API on in-memory fakes, with an admin token, a tenant-admin token per tenant, and a fake clock. */
async function api() {
  const store = new MemoryStateStore();
  const bus = new MemoryBus();
  const metrics = new RecordingMetricsSink();
  const clock = new FakeClock(START);
  const deps = testDeps({ store, bus, metrics, clock, log: pino({ level: 'silent' }), ids: new SeqIds() });
  const router = new ApiRouter(deps);
  const token = (name: string, role: Role, tenant: string | null = null) =>
    storeToken(store, `${name}-token`, { name, role, tenant, createdBy: 'test' }, clock.now());
  await token('admin', 'admin');
  await token('obs', 'observer');
  await token('a-admin', 'tenant-admin', 'tenant-a');
  await token('b-admin', 'tenant-admin', 'tenant-b');
  await token('std-admin', 'tenant-admin', 'std');

  let n = 0;
  const call = (method: string, path: string, who: string | undefined, body?: unknown) =>
    router.handle({
      method,
      path,
      query: {},
      headers: {
        ...(who ? { authorization: `Bearer ${who}-token` } : {}),
        'content-type': 'application/json',
        'x-correlation-id': `corr-${++n}`,
      },
      body,
      rawBody: body === undefined ? undefined : Buffer.from(JSON.stringify(body)),
    });
  const create = async (name: string, tier: string, extra: Record<string, unknown> = {}) => {
    const res = await call('POST', '/v1/tenants', 'admin', { name, tier, ...extra });
    expect(res.status).toBe(202);
    return res;
  };
  const doc = async (name: string): Promise<TenantDoc> => TenantDocSchema.parse(await store.get(paths.tenant(name)));
  /** Writes what the agent would have reported, straight into the store. */
  const setDoc = async (name: string, f: (d: TenantDoc) => TenantDoc) =>
    store.set(paths.tenant(name), f(await doc(name)));
  const ready = (name: string) =>
    setDoc(name, (d) => ({ ...d, status: { ...d.status, phase: 'Ready', observedGeneration: d.generation } }));
  const events = async (type?: string) =>
    (await store.list('events')).map((d) => d.data).filter((e) => type === undefined || e.type === type);
  const audit = async () => (await store.list('audit')).map((d) => d.data);
  const requests = () => bus.payloads(TOPICS.tenantRequests);
  return { store, bus, metrics, clock, call, create, doc, setDoc, ready, events, audit, requests };
}

const errorOf = (body: unknown) => (body as { error: { code: string; message: string; issues?: unknown[] } }).error;

describe('POST /v1/tenants', () => {
  it('creates generation 1 with a TenantCreated event, an audit entry and a reconcile request', async () => {
    const a = await api();
    const res = await a.call('POST', '/v1/tenants', 'admin', { name: 'acme', tier: 'dev' });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({
      created: true,
      tenant: {
        spec: { name: 'acme', tier: 'dev', billingId: 'bill-acme', admin: 'admin@acme' },
        generation: 1,
        desired: 'present',
        action: 'apply',
        status: { phase: 'Pending', observedGeneration: 0 },
        kubeconfig: { available: false, deliveredAt: null, deliveredTo: null },
      },
    });
    const correlationId = 'corr-1';
    expect(await a.doc('acme')).toMatchObject({
      generation: 1,
      action: 'apply',
      correlationId,
      createdAt: START,
      createdBy: 'token:admin',
    });

    expect(await a.events()).toEqual([
      expect.objectContaining({
        type: 'TenantCreated',
        tenant: 'acme',
        world: null,
        correlationId,
        principal: 'token:admin',
        data: { tenant: 'acme', tier: 'dev', billingId: 'bill-acme' },
      }),
    ]);
    const entries = await a.audit();
    expect(entries).toEqual([
      expect.objectContaining({
        action: 'tenant.create',
        target: 'tenants/acme',
        principal: 'token:admin',
        correlationId,
        details: { tier: 'dev', billingId: 'bill-acme' },
      }),
    ]);
    expect(verifyAuditChain(entries)).toBeUndefined();

    expect(a.requests()).toEqual([{ kind: 'reconcile', tenant: 'acme', reason: 'created', correlationId }]);
    expect(TenantMessageSchema.parse(a.requests()[0])).toMatchObject({ kind: 'reconcile' });
    expect(a.bus.published.find((p) => p.topic === TOPICS.tenantRequests)?.message.attributes).toEqual({
      tenant: 'acme',
    });
  });

  it('takes billing id, admin and pool size from the request', async () => {
    const a = await api();
    await a.create('big', 'dedicated', { billingId: 'acct-7', admin: 'ops@big', poolNodes: 3 });
    expect((await a.doc('big')).spec).toEqual({
      name: 'big',
      tier: 'dedicated',
      billingId: 'acct-7',
      admin: 'ops@big',
      poolNodes: 3,
    });
  });

  it('a repeat answers 200 created:false, writes nothing, and asks for a reconcile again', async () => {
    const a = await api();
    await a.create('acme', 'dev');
    const before = await a.doc('acme');
    const again = await a.call('POST', '/v1/tenants', 'admin', { name: 'acme', tier: 'dev' });
    expect(again).toMatchObject({ status: 200, body: { created: false, tenant: { generation: 1 } } });
    expect(await a.doc('acme')).toEqual(before);
    expect(await a.events()).toHaveLength(1);
    expect(await a.audit()).toHaveLength(1);
    expect(a.requests()).toEqual([
      expect.objectContaining({ reason: 'created' }),
      expect.objectContaining({ reason: 'create repeated', tenant: 'acme' }),
    ]);
  });

  it('refuses another tier with 409 naming `ffctl tenant upgrade`', async () => {
    const a = await api();
    await a.create('acme', 'dev');
    const res = await a.call('POST', '/v1/tenants', 'admin', { name: 'acme', tier: 'standard' });
    expect(res.status).toBe(409);
    expect(errorOf(res.body)).toMatchObject({ code: 'CONFLICT' });
    expect(errorOf(res.body).message).toContain('ffctl tenant upgrade acme --to standard');
    expect((await a.doc('acme')).spec.tier).toBe('dev');
  });

  it('refuses a tenant that is being deleted', async () => {
    const a = await api();
    await a.create('acme', 'dev');
    expect((await a.call('DELETE', '/v1/tenants/acme', 'admin')).status).toBe(202);
    const res = await a.call('POST', '/v1/tenants', 'admin', { name: 'acme', tier: 'dev' });
    expect(res.status).toBe(409);
    expect(errorOf(res.body).message).toContain('being deleted');
  });

  it.each<[string, string, unknown]>([
    ['unknown tier', 'tier', { name: 'acme', tier: 'gold' }],
    ['missing tier', 'tier', { name: 'acme' }],
    ['upper case and underscore in the name', 'name', { name: 'Acme_1', tier: 'dev' }],
    ['name too long for a namespace prefix', 'name', { name: 'a'.repeat(41), tier: 'dev' }],
    ['missing name', 'name', { tier: 'dev' }],
    ['poolNodes on dev', 'poolNodes', { name: 'acme', tier: 'dev', poolNodes: 2 }],
    ['poolNodes on standard', 'poolNodes', { name: 'acme', tier: 'standard', poolNodes: 1 }],
    ['too many pool nodes', 'poolNodes', { name: 'acme', tier: 'dedicated', poolNodes: 17 }],
    ['bad billing id', 'billingId', { name: 'acme', tier: 'dev', billingId: 'Bill 1' }],
    ['unknown key', 'color', { name: 'acme', tier: 'dev', color: 'red' }],
  ])('400 for %s, naming %s', async (_name, path, body) => {
    const a = await api();
    const res = await a.call('POST', '/v1/tenants', 'admin', body);
    expect(res.status).toBe(400);
    expect(errorOf(res.body)).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(errorOf(res.body).issues).toContainEqual(expect.objectContaining({ path }));
    expect(await a.store.list('tenants')).toEqual([]);
    expect(a.requests()).toEqual([]);
  });

  it('400 without a body at all', async () => {
    const a = await api();
    const res = await a.call('POST', '/v1/tenants', 'admin');
    expect(res.status).toBe(400);
    expect(errorOf(res.body).issues).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: 'name' }), expect.objectContaining({ path: 'tier' })]),
    );
  });

  it.each<[string, string | undefined, number]>([
    ['no token', undefined, 401],
    ['an observer', 'obs', 403],
    ['a tenant admin', 'a-admin', 403],
  ])('refuses %s', async (_name, who, status) => {
    const a = await api();
    const res = await a.call('POST', '/v1/tenants', who, { name: 'tenant-a', tier: 'dev' });
    expect(res.status).toBe(status);
    expect(await a.store.list('tenants')).toEqual([]);
    expect(a.requests()).toEqual([]);
  });
});

describe('tenant admins see their own tenant only', () => {
  async function twoTenants() {
    const a = await api();
    await a.create('tenant-a', 'dev');
    await a.create('tenant-b', 'standard');
    return a;
  }

  it("another tenant's placements: 403 naming the token's own tenant", async () => {
    const a = await twoTenants();
    const res = await a.call('GET', '/v1/tenants/tenant-b/placements', 'a-admin');
    expect(res.status).toBe(403);
    expect(errorOf(res.body).message).toBe('token a-admin may only see tenant tenant-a');
    expect(await a.events('FeatureDenied')).toEqual([]);
  });

  it('GET its own tenant: 200; another (existing or not): 403', async () => {
    const a = await twoTenants();
    const own = await a.call('GET', '/v1/tenants/tenant-a', 'a-admin');
    expect(own).toMatchObject({ status: 200, body: { spec: { name: 'tenant-a' } } });
    for (const other of ['tenant-b', 'tenant-c']) {
      const res = await a.call('GET', `/v1/tenants/${other}`, 'a-admin');
      expect(res.status).toBe(403);
      expect(errorOf(res.body).message).toBe('token a-admin may only see tenant tenant-a');
    }
    expect((await a.call('GET', '/v1/tenants/tenant-c', 'admin')).status).toBe(404);
  });

  it('the list shows only its own tenant; staff see all', async () => {
    const a = await twoTenants();
    const names = async (who: string) => {
      const res = await a.call('GET', '/v1/tenants', who);
      expect(res.status).toBe(200);
      return (res.body as { items: TenantDoc[] }).items.map((t) => t.spec.name);
    };
    expect(await names('a-admin')).toEqual(['tenant-a']);
    expect(await names('b-admin')).toEqual(['tenant-b']);
    expect((await names('obs')).sort()).toEqual(['tenant-a', 'tenant-b']);
  });

  it.each<[string, string, unknown]>([
    ['upgrade', 'POST /v1/tenants/tenant-a:upgrade', { to: 'standard' }],
    ['delete', 'DELETE /v1/tenants/tenant-a', undefined],
    ['change feature flags', 'PATCH /v1/config/features', { tier: 'dev', feature: 'placementHistory', enabled: true }],
  ])('may not %s, even its own', async (_name, route, body) => {
    const a = await twoTenants();
    const [method, path] = route.split(' ') as [string, string];
    const res = await a.call(method, path, 'a-admin', body);
    expect(res.status).toBe(403);
    expect((await a.doc('tenant-a')).generation).toBe(1);
  });
});

describe('feature flags by tier', () => {
  it('dev tier: placement history refused (FeatureDenied, audit entry); a flag flip enables it live', async () => {
    const a = await api();
    await a.create('tenant-a', 'dev', { billingId: 'acct-a' });

    const denied = await a.call('GET', '/v1/tenants/tenant-a/placements', 'a-admin');
    expect(denied.status).toBe(403);
    const err = errorOf(denied.body);
    expect(err.code).toBe('PERMISSION_DENIED');
    expect(err.message).toContain('placementHistory');
    expect(err.message).toContain('dev tier');
    expect(denied.body).toMatchObject({ error: { details: { feature: 'placementHistory', tier: 'dev' } } });

    expect(await a.events('FeatureDenied')).toEqual([
      expect.objectContaining({
        tenant: 'tenant-a',
        severity: 'Warning',
        reason: 'placementHistory',
        principal: 'token:a-admin',
        data: {
          tenant: 'tenant-a',
          tier: 'dev',
          billingId: 'acct-a',
          path: '/v1/tenants/tenant-a/placements',
        },
      }),
    ]);
    expect((await a.audit()).find((e) => e.action === 'feature.denied')).toMatchObject({
      target: 'tenants/tenant-a',
      principal: 'token:a-admin',
      details: { feature: 'placementHistory', tier: 'dev', billingId: 'acct-a' },
    });
    expect(a.metrics.value('fleetforge_feature_denied_total', { tier: 'dev', feature: 'placementHistory' })).toBe(1);

    const patch = await a.call('PATCH', '/v1/config/features', 'admin', {
      tier: 'dev',
      feature: 'placementHistory',
      enabled: true,
    });
    expect(patch).toMatchObject({ status: 200, body: { tiers: { dev: { placementHistory: true } } } });

    // Same router, no restart: the next request sees the flag.
    const allowed = await a.call('GET', '/v1/tenants/tenant-a/placements', 'a-admin');
    expect(allowed).toMatchObject({ status: 200, body: { tenant: 'tenant-a', items: [] } });
    expect(await a.events('FeatureDenied')).toHaveLength(1);
    const audit = await a.audit();
    expect(audit.map((e) => e.action)).toEqual(['tenant.create', 'feature.denied', 'config.features']);
    expect(verifyAuditChain(audit)).toBeUndefined();

    // And off again: refused again.
    await a.call('PATCH', '/v1/config/features', 'admin', { tier: 'dev', feature: 'placementHistory', enabled: false });
    expect((await a.call('GET', '/v1/tenants/tenant-a/placements', 'a-admin')).status).toBe(403);
  });

  it('a flag change for one tier leaves the others as they were', async () => {
    const a = await api();
    await a.call('PATCH', '/v1/config/features', 'admin', { tier: 'dev', feature: 'manualScaling', enabled: true });
    const res = await a.call('GET', '/v1/config/features', 'obs');
    expect(res.body).toEqual({
      tiers: {
        dev: { placementHistory: false, kubeconfigDelivery: false, manualScaling: true, dedicatedPool: false },
        standard: { placementHistory: true, kubeconfigDelivery: true, manualScaling: true, dedicatedPool: false },
        dedicated: { placementHistory: true, kubeconfigDelivery: false, manualScaling: true, dedicatedPool: true },
      },
    });
  });

  it('platform staff are not gated by a tenant tier', async () => {
    const a = await api();
    await a.create('tenant-a', 'dev');
    expect((await a.call('GET', '/v1/tenants/tenant-a/placements', 'admin')).status).toBe(200);
    expect(await a.events('FeatureDenied')).toEqual([]);
  });

  it('a standard tenant has placement history by default', async () => {
    const a = await api();
    await a.create('std', 'standard');
    const placement = { at: START, correlationId: 'corr-x', nodes: ['n1'], namespace: 'vc-std', reason: 'vcluster' };
    await a.setDoc('std', (d) => ({ ...d, status: { ...d.status, placements: [placement] } }));
    const res = await a.call('GET', '/v1/tenants/std/placements', 'std-admin');
    expect(res).toMatchObject({ status: 200, body: { tenant: 'std', items: [placement] } });
  });

  it.each<[string, unknown, string]>([
    ['unknown tier', { tier: 'gold', feature: 'placementHistory', enabled: true }, 'tier'],
    ['unknown feature', { tier: 'dev', feature: 'teleport', enabled: true }, 'feature'],
    ['enabled not a boolean', { tier: 'dev', feature: 'placementHistory', enabled: 'yes' }, 'enabled'],
  ])('PATCH /v1/config/features: 400 for %s', async (_name, body, path) => {
    const a = await api();
    const res = await a.call('PATCH', '/v1/config/features', 'admin', body);
    expect(res.status).toBe(400);
    expect(errorOf(res.body).issues).toContainEqual(expect.objectContaining({ path }));
  });

  // A config document written before a feature existed (or by hand) lacks keys. featureEnabled
  // falls back to DEFAULT_FEATURE_FLAGS for a missing tier or feature; the stored document must
  // therefore parse with keys missing.
  it('a stored config missing a tier or feature falls back to the defaults for it', async () => {
    const a = await api();
    await a.create('tenant-a', 'dev');
    await a.store.set(paths.config('tenant-features'), { tiers: { dev: { placementHistory: true } } });
    const res = await a.call('GET', '/v1/tenants/tenant-a/placements', 'a-admin');
    expect(res).toMatchObject({ status: 200, body: { tenant: 'tenant-a', items: [] } });
  });
});

describe('GET /v1/tenants/{name}/kubeconfig', () => {
  const KUBECONFIG = 'apiVersion: v1\nkind: Config\nclusters: [{name: vc-std}]\n';

  it('hands the pending kubeconfig out once, then 409 naming when and to whom', async () => {
    const a = await api();
    await a.create('std', 'standard');
    await a.setDoc('std', (d) => ({
      ...d,
      status: { ...d.status, phase: 'Ready', observedGeneration: 1 },
      kubeconfig: { pending: KUBECONFIG, deliveredAt: null, deliveredTo: null },
    }));
    // The tenant view says there is one, never what it is.
    const view = await a.call('GET', '/v1/tenants/std', 'std-admin');
    expect(view.body).toMatchObject({ kubeconfig: { available: true, deliveredAt: null } });
    expect(JSON.stringify(view.body)).not.toContain('clusters');

    a.clock.advance(5000);
    const deliveredAt = a.clock.now().toISOString();
    const first = await a.call('GET', '/v1/tenants/std/kubeconfig', 'std-admin');
    expect(first).toEqual({
      status: 200,
      body: { tenant: 'std', kubeconfig: KUBECONFIG },
      contentType: 'application/json',
    });
    expect((await a.doc('std')).kubeconfig).toEqual({
      pending: null,
      deliveredAt,
      deliveredTo: 'token:std-admin',
    });

    a.clock.advance(5000);
    const second = await a.call('GET', '/v1/tenants/std/kubeconfig', 'std-admin');
    expect(second.status).toBe(409);
    expect(errorOf(second.body).message).toContain(deliveredAt);
    expect(errorOf(second.body).message).toContain('token:std-admin');
    expect(JSON.stringify(second.body)).not.toContain('clusters');

    expect(await a.events('KubeconfigDelivered')).toEqual([
      expect.objectContaining({
        tenant: 'std',
        principal: 'token:std-admin',
        data: { tenant: 'std', tier: 'standard', billingId: 'bill-std' },
      }),
    ]);
    expect((await a.audit()).filter((e) => e.action === 'tenant.kubeconfig.deliver')).toHaveLength(1);
    expect((await a.call('GET', '/v1/tenants/std', 'std-admin')).body).toMatchObject({
      kubeconfig: { available: false, deliveredAt, deliveredTo: 'token:std-admin' },
    });
  });

  it('409 while there is none yet', async () => {
    const a = await api();
    await a.create('std', 'standard');
    const res = await a.call('GET', '/v1/tenants/std/kubeconfig', 'std-admin');
    expect(res.status).toBe(409);
    expect(errorOf(res.body).message).toContain('no kubeconfig yet');
    expect(await a.events('KubeconfigDelivered')).toEqual([]);
  });

  it('a dev tenant admin is refused the feature (403, kubeconfigDelivery)', async () => {
    const a = await api();
    await a.create('tenant-a', 'dev');
    const res = await a.call('GET', '/v1/tenants/tenant-a/kubeconfig', 'a-admin');
    expect(res.status).toBe(403);
    expect(errorOf(res.body).message).toContain('kubeconfigDelivery');
    expect(await a.events('FeatureDenied')).toHaveLength(1);
  });

  // The kubeconfig is the vcluster's admin credential, handed out once to the tenant's admin. Staff
  // tokens are not gated by a tier, so were the route open to tenants:read, a read-only observer
  // or billing token could take it and the tenant admin would then get 409: the route takes
  // tenants:kubeconfig, which the read-only roles lack.
  it.each(['obs', 'billing'])(
    'a read-only %s token may not take it: it stays pending for the tenant admin',
    async (who) => {
      const a = await api();
      await storeToken(
        a.store,
        'billing-token',
        { name: 'billing', role: 'billing', tenant: null, createdBy: 'test' },
        a.clock.now(),
      );
      await a.create('std', 'standard');
      await a.setDoc('std', (d) => ({
        ...d,
        kubeconfig: { pending: KUBECONFIG, deliveredAt: null, deliveredTo: null },
      }));
      const res = await a.call('GET', '/v1/tenants/std/kubeconfig', who);
      expect(res.status).toBe(403);
      expect(JSON.stringify(res.body)).not.toContain('clusters');
      expect((await a.doc('std')).kubeconfig.pending).toBe(KUBECONFIG);
      expect((await a.call('GET', '/v1/tenants/std/kubeconfig', 'std-admin')).status).toBe(200);
    },
  );

  it('a platform admin may still take it (ffctl with a staff token)', async () => {
    const a = await api();
    await a.create('std', 'standard');
    await a.setDoc('std', (d) => ({ ...d, kubeconfig: { pending: KUBECONFIG, deliveredAt: null, deliveredTo: null } }));
    expect(await a.call('GET', '/v1/tenants/std/kubeconfig', 'admin')).toMatchObject({
      status: 200,
      body: { kubeconfig: KUBECONFIG },
    });
    expect((await a.doc('std')).kubeconfig.deliveredTo).toBe('token:admin');
  });

  it("another tenant's admin gets 403 and the kubeconfig stays pending", async () => {
    const a = await api();
    await a.create('std', 'standard');
    await a.setDoc('std', (d) => ({ ...d, kubeconfig: { pending: KUBECONFIG, deliveredAt: null, deliveredTo: null } }));
    const res = await a.call('GET', '/v1/tenants/std/kubeconfig', 'a-admin');
    expect(res.status).toBe(403);
    expect(errorOf(res.body).message).toBe('token a-admin may only see tenant tenant-a');
    expect((await a.doc('std')).kubeconfig.pending).toBe(KUBECONFIG);
    expect(await a.events('KubeconfigDelivered')).toEqual([]);
  });
});

describe('POST /v1/tenants/{name}:upgrade', () => {
  it('a Ready dev tenant: 202, generation + 1, action upgrade, audited, reconcile requested', async () => {
    const a = await api();
    await a.create('acme', 'dev');
    await a.ready('acme');
    const res = await a.call('POST', '/v1/tenants/acme:upgrade', 'admin', { to: 'standard', failAt: 'validate' });
    expect(res).toMatchObject({
      status: 202,
      body: { correlationId: 'corr-2', tenant: { generation: 2, action: 'upgrade' } },
    });
    const doc = await a.doc('acme');
    expect(doc).toMatchObject({
      generation: 2,
      action: 'upgrade',
      correlationId: 'corr-2',
      upgrade: { to: 'standard', failAt: 'validate', requestedAt: START },
      spec: { tier: 'dev' }, // until the agent reports the upgrade completed
    });
    expect(a.requests().at(-1)).toEqual({
      kind: 'reconcile',
      tenant: 'acme',
      reason: 'upgrade',
      correlationId: 'corr-2',
    });
    expect((await a.audit()).at(-1)).toMatchObject({
      action: 'tenant.upgrade',
      target: 'tenants/acme',
      details: { tier: 'dev', billingId: 'bill-acme', generation: 2 },
    });
  });

  it.each<[string, string, boolean, string]>([
    ['a standard tenant', 'standard', true, 'only dev tenants upgrade to standard'],
    ['a dedicated tenant', 'dedicated', true, 'only dev tenants upgrade to standard'],
    ['a Pending dev tenant', 'dev', false, 'is Pending'],
  ])('409 for %s', async (_name, tier, isReady, message) => {
    const a = await api();
    await a.create('acme', tier);
    if (isReady) await a.ready('acme');
    const before = await a.doc('acme');
    const res = await a.call('POST', '/v1/tenants/acme:upgrade', 'admin', { to: 'standard' });
    expect(res.status).toBe(409);
    expect(errorOf(res.body)).toMatchObject({ code: 'FAILED_PRECONDITION' });
    expect(errorOf(res.body).message).toContain(message);
    expect(await a.doc('acme')).toEqual(before);
    expect(a.requests()).toHaveLength(1); // only the create's
  });

  it('a repeat after the upgrade completed is a no-op (202, same generation)', async () => {
    const a = await api();
    await a.create('acme', 'dev');
    await a.ready('acme');
    await a.call('POST', '/v1/tenants/acme:upgrade', 'admin', { to: 'standard' });
    // What the agent's Completed report leaves behind.
    await a.setDoc('acme', (d) => ({
      ...d,
      spec: { ...d.spec, tier: 'standard' },
      status: { ...d.status, phase: 'Ready', observedGeneration: d.generation },
    }));
    const audits = (await a.audit()).length;
    const res = await a.call('POST', '/v1/tenants/acme:upgrade', 'admin', { to: 'standard' });
    expect(res).toMatchObject({ status: 202, body: { tenant: { generation: 2, spec: { tier: 'standard' } } } });
    expect((await a.doc('acme')).generation).toBe(2);
    expect(await a.audit()).toHaveLength(audits);
  });

  it('409 while an upgrade is still in flight', async () => {
    const a = await api();
    await a.create('acme', 'dev');
    await a.ready('acme');
    expect((await a.call('POST', '/v1/tenants/acme:upgrade', 'admin', { to: 'standard' })).status).toBe(202);
    const again = await a.call('POST', '/v1/tenants/acme:upgrade', 'admin', { to: 'standard' });
    expect(again.status).toBe(409);
    expect((await a.doc('acme')).generation).toBe(2);
  });

  it('400 naming the field for a bad body; 404 for an unknown tenant', async () => {
    const a = await api();
    await a.create('acme', 'dev');
    await a.ready('acme');
    const bad = await a.call('POST', '/v1/tenants/acme:upgrade', 'admin', { to: 'dedicated' });
    expect(bad.status).toBe(400);
    expect(errorOf(bad.body).issues).toContainEqual(expect.objectContaining({ path: 'to' }));
    expect((await a.call('POST', '/v1/tenants/nope:upgrade', 'admin', { to: 'standard' })).status).toBe(404);
  });
});

describe('DELETE /v1/tenants/{name}', () => {
  it('202, desired absent, generation + 1, action delete; a repeat changes nothing', async () => {
    const a = await api();
    await a.create('acme', 'dev');
    await a.ready('acme');
    const res = await a.call('DELETE', '/v1/tenants/acme', 'admin');
    expect(res).toMatchObject({ status: 202, body: { tenant: { desired: 'absent', generation: 2 } } });
    expect(await a.doc('acme')).toMatchObject({
      desired: 'absent',
      action: 'delete',
      generation: 2,
      status: { phase: 'Deleting', observedGeneration: 1 },
    });
    expect(a.requests().at(-1)).toMatchObject({ kind: 'reconcile', tenant: 'acme', reason: 'delete' });
    expect((await a.audit()).map((e) => e.action)).toEqual(['tenant.create', 'tenant.delete']);

    const again = await a.call('DELETE', '/v1/tenants/acme', 'admin');
    expect(again).toMatchObject({ status: 202, body: { tenant: { generation: 2 } } });
    expect((await a.audit()).map((e) => e.action)).toEqual(['tenant.create', 'tenant.delete']);
  });

  it('a tenant the agent answered Unavailable (no cluster) is removed at once, with its event and audit entry', async () => {
    const a = await api();
    await a.create('lonely', 'dev');
    await a.setDoc('lonely', (d) => ({
      ...d,
      status: { ...d.status, phase: 'Unavailable', observedGeneration: 1, message: 'run npm run kube:up' },
    }));
    const before = a.requests().length;
    const res = await a.call('DELETE', '/v1/tenants/lonely', 'admin');
    expect(res.status).toBe(200);
    expect(await a.store.get(paths.tenant('lonely'))).toBeUndefined();
    expect(await a.events('TenantDeleted')).toHaveLength(1);
    expect((await a.audit()).at(-1)).toMatchObject({ action: 'tenant.delete', details: { neverProvisioned: true } });
    expect(a.requests()).toHaveLength(before);
    // A tenant that reached a cluster is decommissioned by the agent instead.
    await a.create('placed', 'dev');
    await a.setDoc('placed', (d) => ({
      ...d,
      status: { ...d.status, phase: 'Unavailable', namespace: 'tenant-placed', observedGeneration: 1 },
    }));
    expect((await a.call('DELETE', '/v1/tenants/placed', 'admin')).status).toBe(202);
  });

  it('404 for an unknown tenant', async () => {
    const a = await api();
    expect((await a.call('DELETE', '/v1/tenants/nope', 'admin')).status).toBe(404);
    expect(a.requests()).toEqual([]);
  });
});
