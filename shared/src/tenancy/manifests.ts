/**
 * The Kubernetes objects each tier is made of, as plain JSON (no SDK here): the
 * agent applies them with server-side apply, tests read them as tables.
 */
import type { TenantSpec } from './tenancy';

export type KubeObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
} & Record<string, unknown>;

export const LABELS = {
  tenant: 'fleetforge.dev/tenant',
  tier: 'fleetforge.dev/tier',
  billingId: 'fleetforge.dev/billing-id',
  pool: 'fleetforge.dev/pool',
  managedBy: 'app.kubernetes.io/managed-by',
} as const;

/** The ClusterRole (agent/deploy/rbac.yaml) each vcluster's syncer is bound to in its host namespace. */
export const VCLUSTER_CLUSTER_ROLE = 'fleetforge-vcluster';

/**
 * The agent's rights inside a tenant namespace (agent/deploy/rbac.yaml). Bound per
 * namespace, when the namespace is created, so the agent holds them nowhere else.
 */
export const AGENT_TENANT_CLUSTER_ROLE = 'fleetforge-agent-tenant';

/** The agent's own service account: the subject of its per-namespace binding. */
export interface AgentSubject {
  namespace: string;
  name: string;
}
export const DEFAULT_AGENT_SUBJECT: AgentSubject = { namespace: 'fleetforge-system', name: 'fleetforge-agent' };

/** The RoleBinding that gives the agent AGENT_TENANT_CLUSTER_ROLE in one tenant namespace. */
export function agentTenantRoleBinding(ns: string, agent: AgentSubject = DEFAULT_AGENT_SUBJECT): KubeObject {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: 'fleetforge-agent', namespace: ns, labels: { [LABELS.managedBy]: 'fleetforge' } },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: AGENT_TENANT_CLUSTER_ROLE },
    subjects: [{ kind: 'ServiceAccount', name: agent.name, namespace: agent.namespace }],
  };
}

/** The taint and label a reserved node carries; only the tenant's pods tolerate it. */
export const TENANT_TAINT_KEY = LABELS.tenant;
export const UNASSIGNED_POOL = 'unassigned';

/** dev-tier limits (GH-026): every one is enforced by the API server's ResourceQuota admission. */
export const DEV_QUOTA = {
  'requests.cpu': '2',
  'requests.memory': '4Gi',
  'limits.cpu': '4',
  'limits.memory': '8Gi',
  pods: '10',
  services: '5',
  configmaps: '10',
  secrets: '12',
  persistentvolumeclaims: '2',
} as const;

/** Containers without resources get these, so every pod counts against the quota. */
export const DEV_LIMIT_RANGE = {
  defaultRequest: { cpu: '100m', memory: '128Mi' },
  default: { cpu: '500m', memory: '512Mi' },
  max: { cpu: '2', memory: '4Gi' },
} as const;

export function tenantNamespace(tenant: string): string {
  return `tenant-${tenant}`;
}

/** Where a standard tenant's vcluster runs on the shared pool. */
export function vclusterNamespace(tenant: string): string {
  return `vc-${tenant}`;
}

export function tenantLabels(spec: TenantSpec): Record<string, string> {
  return {
    [LABELS.tenant]: spec.name,
    [LABELS.tier]: spec.tier,
    [LABELS.billingId]: spec.billingId,
    [LABELS.managedBy]: 'fleetforge',
  };
}

function networkPolicies(ns: string, labels: Record<string, string>): KubeObject[] {
  const np = (name: string, spec: Record<string, unknown>): KubeObject => ({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, namespace: ns, labels },
    spec,
  });
  return [
    np('default-deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }),
    np('allow-same-namespace', {
      podSelector: {},
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ from: [{ podSelector: {} }] }],
      egress: [{ to: [{ podSelector: {} }] }],
    }),
    np('allow-dns', {
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
    }),
  ];
}

/** dev: an isolated namespace with quota, limits and default-deny networking. */
export function devTenantObjects(spec: TenantSpec): KubeObject[] {
  const ns = tenantNamespace(spec.name);
  const labels = tenantLabels(spec);
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels } },
    {
      apiVersion: 'v1',
      kind: 'ResourceQuota',
      metadata: { name: 'tenant-quota', namespace: ns, labels },
      spec: { hard: { ...DEV_QUOTA } },
    },
    {
      apiVersion: 'v1',
      kind: 'LimitRange',
      metadata: { name: 'tenant-limits', namespace: ns, labels },
      spec: { limits: [{ type: 'Container', ...DEV_LIMIT_RANGE }] },
    },
    ...networkPolicies(ns, labels),
  ];
}

/**
 * standard: what a vcluster install creates in its host namespace: service
 * account and role binding for its syncer, the token Secret, the Services and the
 * StatefulSet whose pod runs the virtual control plane.
 */
export function standardTenantObjects(spec: TenantSpec, adminToken: string): KubeObject[] {
  const ns = vclusterNamespace(spec.name);
  const name = spec.name;
  const labels = tenantLabels(spec);
  const appLabels = { app: 'vcluster', release: name };
  const sa = `vc-${name}`;
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: sa, namespace: ns, labels } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: sa, namespace: ns, labels },
      // The syncer's rights live in one ClusterRole (agent/deploy/rbac.yaml), bound here per namespace.
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: VCLUSTER_CLUSTER_ROLE },
      subjects: [{ kind: 'ServiceAccount', name: sa, namespace: ns }],
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: `vc-${name}-token`, namespace: ns, labels },
      type: 'Opaque',
      stringData: { token: adminToken },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: ns, labels: { ...labels, ...appLabels } },
      spec: { selector: appLabels, ports: [{ name: 'https', port: 443, targetPort: 8443, protocol: 'TCP' }] },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: `${name}-headless`, namespace: ns, labels: { ...labels, ...appLabels } },
      spec: {
        clusterIP: 'None',
        selector: appLabels,
        ports: [{ name: 'https', port: 443, targetPort: 8443, protocol: 'TCP' }],
      },
    },
    // The vcluster's synced workloads run here: the same isolation as a dev namespace,
    // except that the tenant reaches its virtual API server from outside.
    ...networkPolicies(ns, labels),
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'allow-vcluster-api', namespace: ns, labels },
      spec: {
        podSelector: { matchLabels: appLabels },
        policyTypes: ['Ingress'],
        ingress: [{ ports: [{ protocol: 'TCP', port: 8443 }] }],
      },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name, namespace: ns, labels: { ...labels, ...appLabels } },
      spec: {
        serviceName: `${name}-headless`,
        replicas: 1,
        selector: { matchLabels: appLabels },
        template: {
          metadata: { labels: { ...labels, ...appLabels } },
          spec: {
            serviceAccountName: sa,
            nodeSelector: { [LABELS.pool]: 'shared' },
            containers: [
              {
                name: 'vcluster',
                image: 'fleetforge/vcluster:1.20',
                ports: [{ containerPort: 8443, name: 'https', protocol: 'TCP' }],
                env: [
                  { name: 'VCLUSTER_NAME', value: name },
                  { name: 'VCLUSTER_TOKEN', valueFrom: { secretKeyRef: { name: `vc-${name}-token`, key: 'token' } } },
                ],
                readinessProbe: { httpGet: { path: '/readyz', port: 8443, scheme: 'HTTPS' }, periodSeconds: 2 },
                resources: { requests: { cpu: '200m', memory: '256Mi' } },
              },
            ],
          },
        },
      },
    },
  ];
}

/** dedicated: the tenant's namespace is pinned to its reserved nodes by the API server's own admission plugins. */
export function dedicatedTenantObjects(spec: TenantSpec): KubeObject[] {
  const ns = tenantNamespace(spec.name);
  const labels = tenantLabels(spec);
  const toleration = [{ key: TENANT_TAINT_KEY, operator: 'Equal', value: spec.name, effect: 'NoSchedule' }];
  return [
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: ns,
        labels,
        annotations: {
          // PodNodeSelector: every pod here gets this node selector.
          'scheduler.alpha.kubernetes.io/node-selector': `${LABELS.tenant}=${spec.name}`,
          // PodTolerationRestriction: every pod gets the pool's toleration. No whitelist: it would
          // also refuse the not-ready/unreachable tolerations every pod gets; the node selector
          // above already keeps tenant pods off every node but their own.
          'scheduler.alpha.kubernetes.io/defaultTolerations': JSON.stringify(toleration),
        },
      },
    },
    ...networkPolicies(ns, labels),
  ];
}

/** The labels and taint a node gets when it is reserved for a dedicated tenant. */
export function reservedNodeShape(tenant: string): {
  labels: Record<string, string>;
  taint: { key: string; value: string; effect: 'NoSchedule' };
} {
  return {
    labels: { [LABELS.pool]: 'dedicated', [LABELS.tenant]: tenant },
    taint: { key: TENANT_TAINT_KEY, value: tenant, effect: 'NoSchedule' },
  };
}
