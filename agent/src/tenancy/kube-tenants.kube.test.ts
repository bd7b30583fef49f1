/**
 * The tenant tiers against a real kube-apiserver, controller manager and
 * scheduler (the `kube` Jest project starts them; FF_TEST_KUBECONFIG names the
 * admin kubeconfig). Every assertion is about what the API server enforces.
 */
import { AppsV1Api, CoreV1Api, KubeConfig, NetworkingV1Api, type V1Pod } from '@kubernetes/client-node';
import {
  DEV_QUOTA,
  LABELS,
  TenantDocSchema,
  TenantSpecSchema,
  applyTenantObservation,
  sleep,
  tenantNamespace,
  vclusterNamespace,
  type TenantCommand,
  type TenantDoc,
  type TenantObservation,
  type TenantSpec,
} from '@fleetforge/shared';
import { tenantTargets } from '../metering/targets';
import { KubeTenantExecutor, type ProgressInput } from './kube-tenants';

jest.setTimeout(120_000);

const kc = new KubeConfig();
kc.loadFromFile(process.env.FF_TEST_KUBECONFIG ?? '');
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
// The executor acts as the agent (its token, agent/deploy's RBAC); the test checks as admin.
const agentKc = new KubeConfig();
agentKc.loadFromFile(process.env.FF_TEST_AGENT_KUBECONFIG ?? '');
const exec = new KubeTenantExecutor({ kubeconfig: agentKc, sampleMs: 60_000 });

afterAll(() => exec.close());

const spec = (name: string, tier: TenantSpec['tier'], poolNodes = 2): TenantSpec =>
  TenantSpecSchema.parse({ name, tier, billingId: `bill-${name}`, admin: `admin@${name}`, poolNodes });

let gen = 0;
async function run(s: TenantSpec, action: TenantCommand['action'] = 'apply', failAt?: TenantCommand['failAt']) {
  const reports: ProgressInput[] = [];
  gen += 1;
  await exec.execute(
    { commandId: `c${gen}`, tenant: s.name, generation: gen, action, spec: s, failAt, correlationId: `corr-${gen}` },
    async (p) => {
      reports.push(p);
    },
  );
  return { reports, last: reports[reports.length - 1]! };
}

const tinyPod = (name: string, requests: Record<string, string> = {}, limits: Record<string, string> = {}): V1Pod => ({
  metadata: { name },
  spec: {
    containers: [
      {
        name: 'app',
        image: 'busybox',
        resources: {
          requests: { cpu: '10m', memory: '16Mi', ...requests },
          limits: { cpu: '50m', memory: '32Mi', ...limits },
        },
      },
    ],
  },
});

/** Creates objects until the API server refuses one; returns how many it accepted and the refusal. */
async function fillUntilRefused(max: number, create: (i: number) => Promise<unknown>) {
  for (let i = 0; i < max; i++) {
    try {
      await create(i);
    } catch (err) {
      const e = err as { code?: number; body?: unknown };
      return { accepted: i, code: e.code, message: typeof e.body === 'string' ? e.body : JSON.stringify(e.body) };
    }
  }
  return { accepted: max, code: undefined, message: '' };
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

describe('dev tier', () => {
  test('a namespace labelled with tier and billing id, quota, limits and default-deny policy, ready in time', async () => {
    const s = spec('dev-basic', 'dev');
    const { reports, last } = await run(s);
    expect(reports.map((r) => r.phase)).toEqual(['Provisioning', 'Ready']);
    expect(last.readyMs).toBeLessThan(60_000);
    const ns = await core.readNamespace({ name: tenantNamespace(s.name) });
    expect(ns.metadata?.labels).toMatchObject({
      [LABELS.tenant]: 'dev-basic',
      [LABELS.tier]: 'dev',
      [LABELS.billingId]: 'bill-dev-basic',
    });
    const quota = await core.readNamespacedResourceQuota({ name: 'tenant-quota', namespace: ns.metadata!.name! });
    expect(quota.status?.hard).toEqual(DEV_QUOTA);
    const limits = await core.listNamespacedLimitRange({ namespace: ns.metadata!.name! });
    expect(limits.items).toHaveLength(1);
    const net = kc.makeApiClient(NetworkingV1Api);
    const policies = await net.listNamespacedNetworkPolicy({ namespace: ns.metadata!.name! });
    expect(policies.items.map((p) => p.metadata?.name).sort()).toEqual([
      'allow-dns',
      'allow-same-namespace',
      'default-deny',
    ]);
    // Re-running the same command converges to the same place.
    expect((await run(s)).last.phase).toBe('Ready');
  });

  // One tenant per limit, so each limit is the only one that can refuse.
  const countLimits: Array<[keyof typeof DEV_QUOTA, (ns: string, i: number) => Promise<unknown>]> = [
    ['pods', (ns, i) => core.createNamespacedPod({ namespace: ns, body: tinyPod(`p${i}`) })],
    [
      'services',
      (ns, i) =>
        core.createNamespacedService({
          namespace: ns,
          body: { metadata: { name: `s${i}` }, spec: { ports: [{ port: 80 }] } },
        }),
    ],
    ['configmaps', (ns, i) => core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: `c${i}` } } })],
    ['secrets', (ns, i) => core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: `x${i}` } } })],
    [
      'persistentvolumeclaims',
      (ns, i) =>
        core.createNamespacedPersistentVolumeClaim({
          namespace: ns,
          body: {
            metadata: { name: `v${i}` },
            spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
          },
        }),
    ],
  ];

  test.each(countLimits)('the API server refuses the object past the %s quota', async (resource, create) => {
    const s = spec(`q-${resource.slice(0, 12).toLowerCase()}`, 'dev');
    expect((await run(s)).last.phase).toBe('Ready');
    const ns = tenantNamespace(s.name);
    const r = await fillUntilRefused(40, (i) => create(ns, i));
    expect(r.code).toBe(403);
    expect(r.message).toContain('exceeded quota: tenant-quota');
    expect(r.message).toContain(resource);
    const q = await core.readNamespacedResourceQuota({ name: 'tenant-quota', namespace: ns });
    // What already existed (the root CA config map, the service account token) counts too: used stops at hard.
    await waitFor('quota usage at the limit', async () => {
      const cur = await core.readNamespacedResourceQuota({ name: 'tenant-quota', namespace: ns });
      return cur.status?.used?.[resource] === DEV_QUOTA[resource];
    });
    expect(q.status?.hard?.[resource]).toBe(DEV_QUOTA[resource]);
  });

  const computeLimits: Array<[string, V1Pod, V1Pod]> = [
    ['requests.cpu', tinyPod('a', { cpu: '1900m' }, { cpu: '2' }), tinyPod('b', { cpu: '200m' }, { cpu: '500m' })],
    [
      'requests.memory',
      tinyPod('a', { memory: '3900Mi' }, { memory: '4Gi' }),
      tinyPod('b', { memory: '256Mi' }, { memory: '512Mi' }),
    ],
    ['limits.cpu', tinyPod('a', {}, { cpu: '2' }), tinyPod('b', {}, { cpu: '2' })],
    ['limits.memory', tinyPod('a', {}, { memory: '4Gi' }), tinyPod('b', {}, { memory: '4Gi' })],
  ];

  test.each(computeLimits)('the API server refuses a pod past the %s quota', async (resource, first, second) => {
    const s = spec(`q-${resource.replace('.', '-')}`, 'dev');
    expect((await run(s)).last.phase).toBe('Ready');
    const ns = tenantNamespace(s.name);
    await core.createNamespacedPod({ namespace: ns, body: first });
    if (resource.startsWith('limits')) await core.createNamespacedPod({ namespace: ns, body: second });
    const third = { ...second, metadata: { name: 'c' } };
    const refused = await core
      .createNamespacedPod({ namespace: ns, body: resource.startsWith('limits') ? third : second })
      .then(
        () => undefined,
        (err: { code?: number; body?: unknown }) => err,
      );
    expect(refused?.code).toBe(403);
    expect(String(refused?.body)).toContain('exceeded quota');
    expect(String(refused?.body)).toContain(resource);
  });

  test('a workload over quota surfaces as a QuotaExceeded warning naming the tenant', async () => {
    const s = spec('dev-warn', 'dev');
    expect((await run(s)).last.phase).toBe('Ready');
    const seen: Array<[string, TenantObservation]> = [];
    const watcher = new KubeTenantExecutor({ kubeconfig: agentKc, sampleMs: 60_000 });
    watcher.watch((tenant, obs) => seen.push([tenant, obs]));
    try {
      await apps.createNamespacedDeployment({
        namespace: tenantNamespace(s.name),
        body: {
          metadata: { name: 'too-big' },
          spec: {
            replicas: 14,
            selector: { matchLabels: { app: 'too-big' } },
            template: {
              metadata: { labels: { app: 'too-big' } },
              spec: { containers: [{ name: 'c', image: 'busybox' }] },
            },
          },
        },
      });
      const warning = await waitFor('a QuotaExceeded warning', async () =>
        seen.find(([t, o]) => t === 'dev-warn' && o.kind === 'warning'),
      );
      expect(warning[1]).toMatchObject({
        kind: 'warning',
        warning: { reason: 'QuotaExceeded', namespace: 'tenant-dev-warn' },
      });
    } finally {
      await watcher.close();
    }
  });
});

describe('standard tier', () => {
  test('a vcluster: its resources, ready within 90 s, health 200, a working kubeconfig, placement on the shared pool', async () => {
    const s = spec('std-one', 'standard');
    const { last } = await run(s);
    expect(last.phase).toBe('Ready');
    expect(last.readyMs).toBeLessThan(90_000);
    expect(last.vcluster).toMatchObject({ healthy: true });
    const ns = vclusterNamespace(s.name);
    const [sts, svcs, sas, secrets] = await Promise.all([
      apps.readNamespacedStatefulSet({ name: s.name, namespace: ns }),
      core.listNamespacedService({ namespace: ns }),
      core.readNamespacedServiceAccount({ name: `vc-${s.name}`, namespace: ns }),
      core.listNamespacedSecret({ namespace: ns }),
    ]);
    expect(sts.status?.readyReplicas ?? 0).toBeGreaterThanOrEqual(0);
    expect(svcs.items.map((x) => x.metadata?.name).sort()).toEqual([s.name, `${s.name}-headless`]);
    expect(sas.metadata?.name).toBe(`vc-${s.name}`);
    expect(secrets.items.map((x) => x.metadata?.name)).toEqual(
      expect.arrayContaining([`vc-${s.name}`, `vc-${s.name}-token`]),
    );
    // The delivered kubeconfig reaches a separate API server: the tenant's namespaces are its own.
    const virtual = new KubeConfig();
    virtual.loadFromString(last.kubeconfig ?? '');
    const vcore = virtual.makeApiClient(CoreV1Api);
    await vcore.createNamespace({ body: { metadata: { name: 'only-in-vcluster' } } });
    await expect(core.readNamespace({ name: 'only-in-vcluster' })).rejects.toMatchObject({ code: 404 });
    const nodes = await core.listNode({ labelSelector: `${LABELS.pool}=shared` });
    expect(nodes.items.map((n) => n.metadata?.name)).toEqual(expect.arrayContaining(last.placement?.nodes ?? ['none']));
    expect(last.placement?.nodes).toHaveLength(1);

    // Every sample probes the vcluster as its admin would; stopping its API server shows up as unhealthy.
    const seen: TenantObservation[] = [];
    const watcher = new KubeTenantExecutor({ kubeconfig: agentKc, sampleMs: 60_000 });
    watcher.watch((tenant, obs) => tenant === s.name && seen.push(obs));
    await watcher.sample();
    const usage = seen.filter((o): o is Extract<TenantObservation, { kind: 'usage' }> => o.kind === 'usage');
    expect(usage.at(-1)?.vcluster).toEqual({ server: last.vcluster?.server, healthy: true });
    // What the meter bills from: the vcluster namespace on the standard tier, healthy since this sample,
    // and a healthy run that a second sample continues (its start does not move).
    const seenNs = watcher.observed().find((o) => o.namespace === ns);
    expect(seenNs).toMatchObject({ tenant: s.name, tier: 'standard', vcluster: { healthy: true } });
    const since = seenNs?.vcluster?.healthySince;
    expect(since).toEqual(expect.any(Number));
    await watcher.sample();
    expect(watcher.observed().find((o) => o.namespace === ns)?.vcluster?.healthySince).toBe(since);
    const targets = tenantTargets(() => watcher.observed(), { maxAgeMs: 60_000 })().filter((t) => t.tenant === s.name);
    expect(targets.map((t) => [t.key, t.tier, t.read()])).toEqual([
      [`pods:${ns}`, 'standard', expect.objectContaining({ kind: 'rate', pods: expect.any(Number) })],
      [`vcluster:${s.name}`, 'standard', { kind: 'vcluster', upSince: since }],
    ]);
    await watcher.close();
  }, 150_000);
});

describe('dedicated tier', () => {
  test('tenant pods land only on its reserved nodes; shared pods never do; pool alerts fire', async () => {
    const s = spec('ded-one', 'dedicated', 2);
    const { last } = await run(s);
    expect(last.phase).toBe('Ready');
    const pool = last.placement?.nodes ?? [];
    expect(pool).toHaveLength(2);
    for (const n of pool) {
      const node = await core.readNode({ name: n });
      expect(node.metadata?.labels).toMatchObject({ [LABELS.tenant]: 'ded-one', [LABELS.pool]: 'dedicated' });
      expect(node.spec?.taints).toEqual(
        expect.arrayContaining([expect.objectContaining({ key: LABELS.tenant, value: 'ded-one' })]),
      );
    }
    const deploy = (ns: string, name: string, replicas: number, cpu: string) =>
      apps.createNamespacedDeployment({
        namespace: ns,
        body: {
          metadata: { name },
          spec: {
            replicas,
            selector: { matchLabels: { app: name } },
            template: {
              metadata: { labels: { app: name } },
              spec: { containers: [{ name: 'c', image: 'busybox', resources: { requests: { cpu, memory: '64Mi' } } }] },
            },
          },
        },
      });
    await core.createNamespace({ body: { metadata: { name: 'shared-apps' } } });
    await deploy(tenantNamespace(s.name), 'tenant-app', 6, '1');
    await deploy('shared-apps', 'shared-app', 12, '100m');
    const placed = async (ns: string, n: number) =>
      waitFor(`${n} pods scheduled in ${ns}`, async () => {
        const pods = await core.listNamespacedPod({ namespace: ns });
        const bound = pods.items.filter((p) => p.spec?.nodeName);
        return bound.length >= n ? bound : undefined;
      });
    const tenantPods = await placed(tenantNamespace(s.name), 6);
    const sharedPods = await placed('shared-apps', 12);
    expect(tenantPods.every((p) => pool.includes(p.spec!.nodeName!))).toBe(true);
    expect(sharedPods.some((p) => pool.includes(p.spec!.nodeName!))).toBe(false);
    // The pod carries the pool's selector and toleration without the tenant writing them (admission did).
    expect(tenantPods[0]!.spec?.nodeSelector).toEqual({ [LABELS.tenant]: 'ded-one' });

    // 6 CPU requested of 8 allocatable: 75%, under the 80% threshold. Two more cores cross it.
    const sampled: TenantObservation[] = [];
    const watcher = new KubeTenantExecutor({ kubeconfig: agentKc, sampleMs: 60_000 });
    watcher.watch((tenant, obs) => tenant === 'ded-one' && obs.kind === 'pool' && sampled.push(obs));
    await watcher.sample();
    await apps
      .patchNamespacedDeploymentScale({
        name: 'tenant-app',
        namespace: tenantNamespace(s.name),
        body: { spec: { replicas: 7 } },
      })
      .catch(() =>
        // Read and replace, again on a 409: the deployment controller writes the object too.
        waitFor('deployment scaled to 7', async () => {
          const cur = await apps.readNamespacedDeployment({ name: 'tenant-app', namespace: tenantNamespace(s.name) });
          cur.spec!.replicas = 7;
          await apps.replaceNamespacedDeployment({ name: 'tenant-app', namespace: tenantNamespace(s.name), body: cur });
          return true;
        }),
      );
    await placed(tenantNamespace(s.name), 7);
    await watcher.sample();
    await watcher.close();
    // watch() also samples once on its own: compare the first sample with the last.
    const pools = sampled.filter((o): o is Extract<TenantObservation, { kind: 'pool' }> => o.kind === 'pool');
    const [before, after] = [pools[0], pools[pools.length - 1]];
    const doc = fakeDoc(s);
    const r1 = applyTenantObservation(doc, before!, new Date().toISOString(), 'c');
    expect(r1.fired).toEqual([]);
    const r2 = applyTenantObservation(r1.doc, after!, new Date().toISOString(), 'c');
    expect(r2.fired.map((a) => a.kind)).toEqual(['PoolCpuHigh']);

    // Deleting the tenant returns its nodes to the spare pool.
    expect((await run(s, 'delete')).last.phase).toBe('Deleted');
    for (const n of pool) {
      const node = await core.readNode({ name: n });
      expect(node.metadata?.labels?.[LABELS.pool]).toBe('unassigned');
      expect(node.metadata?.labels?.[LABELS.tenant]).toBeUndefined();
    }
    await core.deleteNamespace({ name: 'shared-apps' });
  }, 180_000);
});

describe('upgrade dev → standard', () => {
  async function devWithWorkloads(name: string) {
    const s = spec(name, 'dev');
    expect((await run(s)).last.phase).toBe('Ready');
    const ns = tenantNamespace(name);
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'settings' }, data: { mode: 'arena' } },
    });
    await core.createNamespacedService({
      namespace: ns,
      body: { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } },
    });
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'web' },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'web' } },
          template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx' }] } },
        },
      },
    });
    await waitFor('dev workloads ready', async () => {
      const d = await apps.readNamespacedDeployment({ name: 'web', namespace: ns });
      return (d.status?.availableReplicas ?? 0) >= 2;
    });
    return s;
  }

  test('workloads move into the vcluster and run there; the namespace goes; downtime is measured', async () => {
    const s = await devWithWorkloads('up-ok');
    const { reports, last } = await run(s, 'upgrade');
    expect(reports[0]).toMatchObject({ phase: 'Upgrading', upgrade: { outcome: 'Started' } });
    expect(last).toMatchObject({ phase: 'Ready', upgrade: { outcome: 'Completed' } });
    expect(last.upgrade?.downtimeMs).toBeLessThan(30_000);
    expect(last.upgrade?.workloads).toBe(3);
    await expect(core.readNamespace({ name: tenantNamespace('up-ok') })).rejects.toMatchObject({ code: 404 });
    const virtual = new KubeConfig();
    virtual.loadFromString(last.kubeconfig ?? '');
    const vcore = virtual.makeApiClient(CoreV1Api);
    const vpods = await vcore.listNamespacedPod({ namespace: tenantNamespace('up-ok') });
    expect(vpods.items).toHaveLength(2);
    expect(vpods.items.every((p) => p.status?.phase === 'Running')).toBe(true);
    const cm = await vcore.readNamespacedConfigMap({ name: 'settings', namespace: tenantNamespace('up-ok') });
    expect(cm.data).toEqual({ mode: 'arena' });
  }, 240_000);

  test.each(['provision', 'reapply', 'validate'] as const)(
    'a failure at %s rolls back: the vcluster is removed and the dev namespace keeps serving',
    async (failAt) => {
      const s = await devWithWorkloads(`up-fail-${failAt}`);
      const { last } = await run(s, 'upgrade', failAt);
      expect(last).toMatchObject({ phase: 'Ready', upgrade: { outcome: 'Failed', step: failAt } });
      expect(last.message).toContain('the dev namespace keeps serving');
      await expect(core.readNamespace({ name: vclusterNamespace(s.name) })).rejects.toMatchObject({ code: 404 });
      const d = await apps.readNamespacedDeployment({ name: 'web', namespace: tenantNamespace(s.name) });
      expect(d.status?.availableReplicas).toBe(2);
    },
    240_000,
  );
});

function fakeDoc(s: TenantSpec): TenantDoc {
  const at = new Date().toISOString();
  return TenantDocSchema.parse({
    spec: s,
    generation: 1,
    desired: 'present',
    action: 'apply',
    correlationId: 'c',
    createdAt: at,
    createdBy: 'test',
    updatedAt: at,
    status: { phase: 'Ready', observedGeneration: 1 },
  });
}
