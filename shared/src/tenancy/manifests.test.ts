import type { TenantSpec, Tier } from './tenancy';
import {
  DEV_LIMIT_RANGE,
  DEV_QUOTA,
  LABELS,
  TENANT_TAINT_KEY,
  VCLUSTER_CLUSTER_ROLE,
  dedicatedTenantObjects,
  devTenantObjects,
  reservedNodeShape,
  standardTenantObjects,
  tenantLabels,
  tenantNamespace,
  vclusterNamespace,
  type KubeObject,
} from './manifests';

const spec = (tier: Tier, name = 'acme'): TenantSpec => ({
  name,
  tier,
  billingId: `bill-${name}`,
  admin: `ops@${name}`,
  poolNodes: 2,
});
const TOKEN = 's3cret-admin-token';

const dev = devTenantObjects(spec('dev'));
const standard = standardTenantObjects(spec('standard'), TOKEN);
const dedicated = dedicatedTenantObjects(spec('dedicated'));

/** Reads a nested field of a manifest (the objects are plain JSON). */
function field(obj: unknown, ...keys: Array<string | number>): unknown {
  let v: unknown = obj;
  for (const k of keys) v = v === null || typeof v !== 'object' ? undefined : (v as Record<string, unknown>)[k];
  return v;
}
const one = (objs: KubeObject[], kind: string, name?: string): KubeObject => {
  const hits = objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  expect(hits).toHaveLength(1);
  return hits[0]!;
};
const kindsOf = (objs: KubeObject[]) => objs.map((o) => `${o.kind}/${o.metadata.name}`);

describe('devTenantObjects', () => {
  it('is a namespace with quota, limits and three network policies', () => {
    expect(kindsOf(dev)).toEqual([
      'Namespace/tenant-acme',
      'ResourceQuota/tenant-quota',
      'LimitRange/tenant-limits',
      'NetworkPolicy/default-deny',
      'NetworkPolicy/allow-same-namespace',
      'NetworkPolicy/allow-dns',
    ]);
  });

  it('labels the namespace with tenant, tier and billing id', () => {
    expect(one(dev, 'Namespace').metadata.labels).toEqual({
      'fleetforge.dev/tenant': 'acme',
      'fleetforge.dev/tier': 'dev',
      'fleetforge.dev/billing-id': 'bill-acme',
      'app.kubernetes.io/managed-by': 'fleetforge',
    });
  });

  it('sets the quota to DEV_QUOTA, every key of it', () => {
    const hard = field(one(dev, 'ResourceQuota'), 'spec', 'hard');
    expect(hard).toEqual(DEV_QUOTA);
    expect(hard).toEqual({
      'requests.cpu': '2',
      'requests.memory': '4Gi',
      'limits.cpu': '4',
      'limits.memory': '8Gi',
      pods: '10',
      services: '5',
      configmaps: '10',
      secrets: '12',
      persistentvolumeclaims: '2',
    });
  });

  it('gives containers default requests and limits, so every pod counts against the quota', () => {
    expect(field(one(dev, 'LimitRange'), 'spec', 'limits')).toEqual([
      {
        type: 'Container',
        defaultRequest: { cpu: '100m', memory: '128Mi' },
        default: { cpu: '500m', memory: '512Mi' },
        max: { cpu: '2', memory: '4Gi' },
      },
    ]);
    expect(DEV_LIMIT_RANGE.max).toEqual({ cpu: DEV_QUOTA['requests.cpu'], memory: DEV_QUOTA['requests.memory'] });
  });

  it.each<[string, Record<string, unknown>]>([
    ['default-deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }],
    [
      'allow-same-namespace',
      {
        podSelector: {},
        policyTypes: ['Ingress', 'Egress'],
        ingress: [{ from: [{ podSelector: {} }] }],
        egress: [{ to: [{ podSelector: {} }] }],
      },
    ],
    [
      'allow-dns',
      {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [
          {
            to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } } }],
            ports: [
              { protocol: 'UDP', port: 53 },
              { protocol: 'TCP', port: 53 },
            ],
          },
        ],
      },
    ],
  ])('network policy %s', (name, want) => {
    const np = one(dev, 'NetworkPolicy', name);
    expect(np.apiVersion).toBe('networking.k8s.io/v1');
    expect(np.spec).toEqual(want);
  });
});

describe('standardTenantObjects', () => {
  const ns = 'vc-acme';

  it('is what a vcluster install creates in its host namespace', () => {
    expect(kindsOf(standard)).toEqual([
      'Namespace/vc-acme',
      'ServiceAccount/vc-acme',
      'RoleBinding/vc-acme',
      'Secret/vc-acme-token',
      'Service/acme',
      'Service/acme-headless',
      'NetworkPolicy/default-deny',
      'NetworkPolicy/allow-same-namespace',
      'NetworkPolicy/allow-dns',
      'NetworkPolicy/allow-vcluster-api',
      'StatefulSet/acme',
    ]);
  });

  it("binds the syncer's service account to the one ClusterRole, in its namespace only", () => {
    const rb = one(standard, 'RoleBinding');
    expect(rb.metadata.namespace).toBe(ns);
    expect(rb.roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: 'fleetforge-vcluster',
    });
    expect(VCLUSTER_CLUSTER_ROLE).toBe('fleetforge-vcluster');
    expect(rb.subjects).toEqual([{ kind: 'ServiceAccount', name: 'vc-acme', namespace: ns }]);
  });

  it('keeps the admin token in a Secret the StatefulSet reads by secretKeyRef (never inline)', () => {
    const secret = one(standard, 'Secret');
    expect(secret).toMatchObject({ type: 'Opaque', stringData: { token: TOKEN } });
    const container = field(one(standard, 'StatefulSet'), 'spec', 'template', 'spec', 'containers', 0);
    expect(field(container, 'env')).toContainEqual({
      name: 'VCLUSTER_TOKEN',
      valueFrom: { secretKeyRef: { name: 'vc-acme-token', key: 'token' } },
    });
    // The token appears in the Secret and nowhere else.
    const elsewhere = standard.filter((o) => o.kind !== 'Secret');
    expect(JSON.stringify(elsewhere)).not.toContain(TOKEN);
  });

  it('runs the StatefulSet on the shared pool with its service account, behind the headless service', () => {
    const sts = one(standard, 'StatefulSet');
    expect(field(sts, 'spec', 'serviceName')).toBe('acme-headless');
    expect(field(sts, 'spec', 'template', 'spec', 'nodeSelector')).toEqual({ 'fleetforge.dev/pool': 'shared' });
    expect(field(sts, 'spec', 'template', 'spec', 'serviceAccountName')).toBe('vc-acme');
    const selector = field(sts, 'spec', 'selector', 'matchLabels') as Record<string, string>;
    expect(field(sts, 'spec', 'template', 'metadata', 'labels')).toMatchObject(selector);
    for (const svc of standard.filter((o) => o.kind === 'Service'))
      expect(field(svc, 'spec', 'selector')).toEqual(selector);
    expect(field(one(standard, 'Service', 'acme-headless'), 'spec', 'clusterIP')).toBe('None');
  });

  it('declares protocol TCP on every Service and container port (server-side apply on 1.20 requires it)', () => {
    const servicePorts = standard
      .filter((o) => o.kind === 'Service')
      .flatMap((o) => field(o, 'spec', 'ports') as unknown[]);
    const containerPorts = standard
      .filter((o) => o.kind === 'StatefulSet')
      .flatMap((o) => field(o, 'spec', 'template', 'spec', 'containers') as unknown[])
      .flatMap((c) => (field(c, 'ports') as unknown[] | undefined) ?? []);
    expect(servicePorts).toHaveLength(2);
    expect(containerPorts).toHaveLength(1);
    for (const p of [...servicePorts, ...containerPorts]) expect(p).toMatchObject({ protocol: 'TCP' });
    // The service's target port is the container's port.
    for (const p of servicePorts) expect(field(p, 'targetPort')).toBe(field(containerPorts[0], 'containerPort'));
  });
});

describe('dedicatedTenantObjects', () => {
  const ns = one(dedicated, 'Namespace');
  const annotations = ns.metadata.annotations ?? {};

  it('is a namespace pinned to the reserved nodes, with the same network policies as dev', () => {
    expect(kindsOf(dedicated)).toEqual([
      'Namespace/tenant-acme',
      'NetworkPolicy/default-deny',
      'NetworkPolicy/allow-same-namespace',
      'NetworkPolicy/allow-dns',
    ]);
    const policies = (objs: KubeObject[]) => objs.filter((o) => o.kind === 'NetworkPolicy').map((o) => o.spec);
    expect(policies(dedicated)).toEqual(policies(dev));
  });

  it('selects the tenant nodes (PodNodeSelector) and tolerates their taint (PodTolerationRestriction)', () => {
    expect(annotations['scheduler.alpha.kubernetes.io/node-selector']).toBe('fleetforge.dev/tenant=acme');
    expect(JSON.parse(annotations['scheduler.alpha.kubernetes.io/defaultTolerations'] ?? 'null')).toEqual([
      { key: 'fleetforge.dev/tenant', operator: 'Equal', value: 'acme', effect: 'NoSchedule' },
    ]);
  });

  it('sets no tolerations whitelist (it would refuse the not-ready/unreachable tolerations every pod gets)', () => {
    expect(Object.keys(annotations)).not.toContain('scheduler.alpha.kubernetes.io/tolerationsWhitelist');
    expect(Object.keys(annotations).sort()).toEqual([
      'scheduler.alpha.kubernetes.io/defaultTolerations',
      'scheduler.alpha.kubernetes.io/node-selector',
    ]);
  });

  it('matches the shape of a reserved node: the selector finds its label, the toleration its taint', () => {
    const node = reservedNodeShape('acme');
    const [key, value] = (annotations['scheduler.alpha.kubernetes.io/node-selector'] ?? '').split('=');
    expect(node.labels[key!]).toBe(value);
    const [toleration] = JSON.parse(annotations['scheduler.alpha.kubernetes.io/defaultTolerations'] ?? '[]') as Array<
      Record<string, string>
    >;
    expect(toleration).toMatchObject({ key: node.taint.key, value: node.taint.value, effect: node.taint.effect });
  });
});

describe('reservedNodeShape', () => {
  it.each(['acme', 'big-co'])('%s: labelled dedicated and for the tenant, tainted NoSchedule for it', (tenant) => {
    expect(reservedNodeShape(tenant)).toEqual({
      labels: { 'fleetforge.dev/pool': 'dedicated', 'fleetforge.dev/tenant': tenant },
      taint: { key: 'fleetforge.dev/tenant', value: tenant, effect: 'NoSchedule' },
    });
    expect(TENANT_TAINT_KEY).toBe(LABELS.tenant);
  });
});

describe('every tier', () => {
  const tiers: Array<[Tier, KubeObject[], string]> = [
    ['dev', dev, tenantNamespace('acme')],
    ['standard', standard, vclusterNamespace('acme')],
    ['dedicated', dedicated, tenantNamespace('acme')],
  ];

  it.each(tiers)('%s: every object carries the tenant labels', (tier, objs) => {
    const want = tenantLabels(spec(tier));
    expect(want).toEqual({
      [LABELS.tenant]: 'acme',
      [LABELS.tier]: tier,
      [LABELS.billingId]: 'bill-acme',
      [LABELS.managedBy]: 'fleetforge',
    });
    for (const o of objs)
      expect({ object: kindsOf([o])[0], labels: o.metadata.labels }).toEqual({
        object: kindsOf([o])[0],
        labels: expect.objectContaining(want),
      });
  });

  it.each(tiers)('%s: one Namespace, first, and every other object in it', (_tier, objs, ns) => {
    expect(objs[0]).toMatchObject({ kind: 'Namespace', metadata: { name: ns } });
    expect(objs[0]!.metadata.namespace).toBeUndefined();
    expect(objs.filter((o) => o.kind === 'Namespace')).toHaveLength(1);
    for (const o of objs.slice(1))
      expect({ object: kindsOf([o])[0], namespace: o.metadata.namespace }).toEqual({
        object: kindsOf([o])[0],
        namespace: ns,
      });
  });

  it.each(tiers)('%s: names are unique per kind', (_tier, objs) => {
    expect(new Set(kindsOf(objs)).size).toBe(objs.length);
  });

  it('derives every name from the tenant, so two tenants never collide', () => {
    const a = [...devTenantObjects(spec('dev', 'a')), ...standardTenantObjects(spec('standard', 'a'), TOKEN)];
    const b = [...devTenantObjects(spec('dev', 'b')), ...standardTenantObjects(spec('standard', 'b'), TOKEN)];
    const key = (o: KubeObject) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    const keysA = new Set(a.map(key));
    expect(b.map(key).filter((k) => keysA.has(k))).toEqual([]);
  });
});
