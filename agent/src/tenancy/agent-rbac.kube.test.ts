/**
 * The agent's RBAC (agent/deploy/rbac.yaml, applied by the `kube` project's global
 * setup) against a real kube-apiserver, acting as the agent's own service account:
 * no secrets, deployments or role bindings outside the namespaces it runs; its job
 * inside a tenant namespace once it has bound itself there; its Lease.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AppsV1Api,
  AuthorizationV1Api,
  CoreV1Api,
  KubeConfig,
  RbacAuthorizationV1Api,
  type V1ResourceAttributes,
  type V1SubjectRulesReviewStatus,
} from '@kubernetes/client-node';
import { TenantSpecSchema, tenantNamespace } from '@fleetforge/shared';
import { LeaseElector } from '../leader';
import { KubeTenantExecutor } from './kube-tenants';

jest.setTimeout(120_000);

const AGENT_USER = 'system:serviceaccount:fleetforge-system:fleetforge-agent';
const admin = new KubeConfig();
admin.loadFromFile(process.env.FF_TEST_KUBECONFIG ?? '');
const agent = new KubeConfig();
agent.loadFromFile(process.env.FF_TEST_AGENT_KUBECONFIG ?? '');
const asAgent = {
  core: agent.makeApiClient(CoreV1Api),
  apps: agent.makeApiClient(AppsV1Api),
  rbac: agent.makeApiClient(RbacAuthorizationV1Api),
  authz: agent.makeApiClient(AuthorizationV1Api),
};
const adminAuthz = admin.makeApiClient(AuthorizationV1Api);
const exec = new KubeTenantExecutor({ kubeconfig: agent, sampleMs: 60_000 });
afterAll(() => exec.close());

/** The HTTP status a call failed with (undefined when it succeeded). */
async function statusOf(call: () => Promise<unknown>): Promise<number | undefined> {
  try {
    await call();
    return undefined;
  } catch (err) {
    return (err as { code?: number }).code;
  }
}

/** SelfSubjectAccessReview as the agent: `kubectl auth can-i VERB RESOURCE -n NS`. */
async function agentCan(attrs: V1ResourceAttributes): Promise<boolean> {
  const r = await asAgent.authz.createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: attrs } } });
  return r.status?.allowed === true;
}

/** What `kubectl auth can-i --list -n NS` prints, from the same SelfSubjectRulesReview. */
async function canIList(namespace: string): Promise<{ text: string; status: V1SubjectRulesReviewStatus }> {
  const r = await asAgent.authz.createSelfSubjectRulesReview({ body: { spec: { namespace } } });
  const status = r.status!;
  const rows: string[][] = [['Resources', 'Non-Resource URLs', 'Resource Names', 'Verbs']];
  for (const rule of status.resourceRules) {
    for (const res of rule.resources ?? []) {
      for (const group of rule.apiGroups ?? ['']) {
        rows.push([
          group ? `${res}.${group}` : res,
          '[]',
          `[${(rule.resourceNames ?? []).join(' ')}]`,
          `[${rule.verbs.join(' ')}]`,
        ]);
      }
    }
  }
  for (const rule of status.nonResourceRules) {
    rows.push(['', `[${(rule.nonResourceURLs ?? []).join(' ')}]`, '[]', `[${rule.verbs.join(' ')}]`]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const text = rows
    .map((row) =>
      row
        .map((c, i) => c.padEnd(widths[i]! + 3))
        .join('')
        .trimEnd(),
    )
    .join('\n');
  return { text, status };
}

describe('the agent service account on a real API server', () => {
  it('cannot read or write secrets, deployments or role bindings in kube-system or cluster-wide', async () => {
    expect(await statusOf(() => asAgent.core.readNamespacedSecret({ name: 'any', namespace: 'kube-system' }))).toBe(
      403,
    );
    expect(await statusOf(() => asAgent.core.listNamespacedSecret({ namespace: 'kube-system' }))).toBe(403);
    expect(await statusOf(() => asAgent.core.listSecretForAllNamespaces({}))).toBe(403);
    expect(
      await statusOf(() =>
        asAgent.core.createNamespacedSecret({ namespace: 'kube-system', body: { metadata: { name: 'x' } } }),
      ),
    ).toBe(403);
    expect(await statusOf(() => asAgent.apps.listDeploymentForAllNamespaces({}))).toBe(403);
    expect(await statusOf(() => asAgent.core.listConfigMapForAllNamespaces({}))).toBe(403);
    expect(await statusOf(() => asAgent.rbac.listRoleBindingForAllNamespaces({}))).toBe(403);
    for (const verb of ['get', 'list', 'create', 'update', 'delete']) {
      expect(await agentCan({ namespace: 'kube-system', verb, resource: 'secrets' })).toBe(false);
    }
    expect(
      await agentCan({
        namespace: 'kube-system',
        verb: 'delete',
        resource: 'rolebindings',
        group: 'rbac.authorization.k8s.io',
      }),
    ).toBe(false);
    expect(await agentCan({ namespace: 'kube-system', verb: 'patch', resource: 'deployments', group: 'apps' })).toBe(
      false,
    );

    // The same question an admin asks with `kubectl auth can-i get secrets -n kube-system --as=…`.
    const sar = await adminAuthz.createSubjectAccessReview({
      body: {
        spec: {
          user: AGENT_USER,
          groups: ['system:serviceaccounts', 'system:serviceaccounts:fleetforge-system', 'system:authenticated'],
          resourceAttributes: { namespace: 'kube-system', verb: 'get', resource: 'secrets' },
        },
      },
    });
    expect(sar.status?.allowed).toBe(false);

    const { text, status } = await canIList('kube-system');
    expect(status.resourceRules.flatMap((r) => r.resources ?? [])).not.toContain('secrets');
    writeFileSync(join(process.env.FF_TEST_KUBE_DIR ?? '.', 'agent-can-i-kube-system.txt'), `${text}\n`);
    process.stdout.write(`kubectl auth can-i --list -n kube-system --as=${AGENT_USER}\n${text}\n`);
  });

  it('binds itself in a tenant namespace it creates, and there manages secrets, quota and bindings', async () => {
    const spec = TenantSpecSchema.parse({ name: 'rbac-dev', tier: 'dev', billingId: 'b', admin: 'a@b', poolNodes: 1 });
    const ns = tenantNamespace(spec.name);
    // Before the namespace exists the agent holds nothing in it.
    expect(await agentCan({ namespace: ns, verb: 'get', resource: 'secrets' })).toBe(false);
    await exec.provisionDev(spec);

    for (const [verb, resource, group] of [
      ['get', 'secrets', ''],
      ['create', 'secrets', ''],
      ['patch', 'resourcequotas', ''],
      ['delete', 'networkpolicies', 'networking.k8s.io'],
      ['create', 'statefulsets', 'apps'],
      ['update', 'rolebindings', 'rbac.authorization.k8s.io'],
    ] as const) {
      expect([verb, resource, await agentCan({ namespace: ns, verb, resource, group })]).toEqual([
        verb,
        resource,
        true,
      ]);
    }
    // Really, not only on paper: a secret round trip as the agent.
    await asAgent.core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: 's' }, stringData: { k: 'v' } },
    });
    const back = await asAgent.core.readNamespacedSecret({ name: 's', namespace: ns });
    expect(Buffer.from(back.data!.k!, 'base64').toString()).toBe('v');
    // Still nothing next door.
    expect(await agentCan({ namespace: 'kube-system', verb: 'get', resource: 'secrets' })).toBe(false);

    const { text } = await canIList(ns);
    process.stdout.write(`kubectl auth can-i --list -n ${ns} --as=${AGENT_USER}\n${text}\n`);
    await exec.deleteNamespace(ns);
  });

  it('holds the leader-election Lease in fleetforge-system, and no lease anywhere else', async () => {
    const elector = new LeaseElector({
      kubeConfig: agent,
      namespace: 'fleetforge-system',
      name: 'fleetforge-agent',
      identity: 'rbac-test',
      leaseDurationMs: 3000,
      renewDeadlineMs: 2000,
      retryPeriodMs: 200,
    });
    await elector.acquire(AbortSignal.timeout(30_000));
    expect(elector.isLeader()).toBe(true);
    await elector.stop();
    expect(
      await agentCan({ namespace: 'kube-system', verb: 'create', resource: 'leases', group: 'coordination.k8s.io' }),
    ).toBe(false);
    expect(
      await agentCan({
        namespace: 'fleetforge-system',
        verb: 'update',
        resource: 'leases',
        group: 'coordination.k8s.io',
        name: 'other',
      }),
    ).toBe(false);
  });
});
