/**
 * agent/deploy/rbac.yaml read as data: what the agent holds cluster-wide must not
 * include secrets, config maps, workloads or changing role bindings. The `kube`
 * project checks the same against a real API server (agent-rbac.kube.test.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { AGENT_TENANT_CLUSTER_ROLE, DEFAULT_AGENT_SUBJECT, agentTenantRoleBinding } from '@fleetforge/shared';

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}
interface Doc {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: Rule[];
  roleRef?: { kind: string; name: string };
  subjects?: Array<{ kind: string; name: string; namespace?: string }>;
}

const docs = YAML.parseAllDocuments(readFileSync(join(__dirname, '..', 'deploy', 'rbac.yaml'), 'utf8')).map(
  (d) => d.toJS() as Doc,
);
const isAgent = (d: Doc) =>
  d.subjects?.some((s) => s.name === DEFAULT_AGENT_SUBJECT.name && s.namespace === DEFAULT_AGENT_SUBJECT.namespace);
const clusterRole = (name: string) => docs.find((d) => d.kind === 'ClusterRole' && d.metadata.name === name)!;

/** Every rule the agent holds in every namespace at once. */
const clusterWide = docs
  .filter((d) => d.kind === 'ClusterRoleBinding' && isAgent(d))
  .flatMap((b) => clusterRole(b.roleRef!.name).rules ?? []);

describe('agent/deploy/rbac.yaml', () => {
  it('grants the agent nothing cluster-wide on secrets, config maps or workloads', () => {
    const touched = clusterWide.flatMap((r) => r.resources);
    for (const forbidden of ['secrets', 'configmaps', 'deployments', 'statefulsets', '*']) {
      expect(touched).not.toContain(forbidden);
    }
    expect(clusterWide.flatMap((r) => r.verbs)).not.toContain('*');
  });

  it('lets the agent only create role bindings cluster-wide, and bind only its tenant role', () => {
    const rbac = clusterWide.filter((r) => r.apiGroups.includes('rbac.authorization.k8s.io'));
    expect(rbac).toEqual([
      { apiGroups: ['rbac.authorization.k8s.io'], resources: ['rolebindings'], verbs: ['create'] },
      {
        apiGroups: ['rbac.authorization.k8s.io'],
        resources: ['clusterroles'],
        verbs: ['bind'],
        resourceNames: [AGENT_TENANT_CLUSTER_ROLE],
      },
    ]);
  });

  it('grants the tenant role only through per-namespace bindings, and it holds what tenants need', () => {
    expect(
      docs.filter((d) => d.kind === 'ClusterRoleBinding' && d.roleRef?.name === AGENT_TENANT_CLUSTER_ROLE),
    ).toEqual([]);
    const tenant = clusterRole(AGENT_TENANT_CLUSTER_ROLE).rules!.flatMap((r) => r.resources);
    expect(tenant).toEqual(
      expect.arrayContaining(['secrets', 'resourcequotas', 'networkpolicies', 'statefulsets', 'rolebindings']),
    );
    // The binding the executor creates names exactly this role and the agent's account.
    const rb = agentTenantRoleBinding('tenant-x');
    expect(rb).toMatchObject({
      metadata: { name: 'fleetforge-agent', namespace: 'tenant-x' },
      roleRef: { kind: 'ClusterRole', name: AGENT_TENANT_CLUSTER_ROLE },
      subjects: [{ kind: 'ServiceAccount', ...DEFAULT_AGENT_SUBJECT }],
    });
  });

  it('grants the Lease for leader election in the agent namespace only', () => {
    const leader = docs.find((d) => d.kind === 'Role' && d.metadata.name === 'fleetforge-agent-leader')!;
    expect(leader.metadata.namespace).toBe(DEFAULT_AGENT_SUBJECT.namespace);
    expect(leader.rules!.every((r) => r.resources.join() === 'leases')).toBe(true);
    const binding = docs.find((d) => d.kind === 'RoleBinding' && d.roleRef?.name === 'fleetforge-agent-leader')!;
    expect(isAgent(binding)).toBe(true);
    expect(clusterWide.flatMap((r) => r.resources)).not.toContain('leases');
  });
});
