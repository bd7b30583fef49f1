import type { V1Node, V1Taint } from '@kubernetes/client-node';
import {
  LABELS,
  TENANT_TAINT_KEY,
  UNASSIGNED_POOL,
  dedicatedTenantObjects,
  reservedNodeShape,
  tenantNamespace,
  vclusterNamespace,
  type TenantSpec,
} from '@fleetforge/shared';
import { code, deleteNamespace, type TierContext } from './context';
import { nodeReady } from './resources';

/** The dedicated tier: `poolNodes` ready unassigned nodes reserved for the tenant, and its namespace. Their names. */
export async function provisionDedicated(ctx: TierContext, spec: TenantSpec): Promise<string[]> {
  const have = (await tenantNodes(ctx, spec.name)).map((n) => n.metadata!.name!);
  const need = spec.poolNodes - have.length;
  if (need > 0) {
    const spare = await ctx.core.listNode({ labelSelector: `${LABELS.pool}=${UNASSIGNED_POOL}` });
    const free = spare.items
      .filter((n) => nodeReady(n))
      .map((n) => n.metadata!.name!)
      .sort();
    if (free.length < need) {
      throw new Error(`the dedicated tier needs ${need} more unassigned node(s); ${free.length} free`);
    }
    for (const name of free.slice(0, need)) {
      await updateNode(ctx, name, (n) => reserve(n, spec.name));
      have.push(name);
    }
  }
  await ctx.apply(dedicatedTenantObjects(spec));
  return have.sort();
}

/** Any tier: removes the tenant's namespaces and returns its reserved nodes to the unassigned pool. */
export async function decommission(ctx: TierContext, spec: TenantSpec): Promise<void> {
  await Promise.all([tenantNamespace(spec.name), vclusterNamespace(spec.name)].map((ns) => deleteNamespace(ctx, ns)));
  for (const n of await tenantNodes(ctx, spec.name)) await updateNode(ctx, n.metadata!.name!, release);
}

async function tenantNodes(ctx: TierContext, tenant: string): Promise<V1Node[]> {
  return (await ctx.core.listNode({ labelSelector: `${LABELS.tenant}=${tenant}` })).items;
}

async function updateNode(ctx: TierContext, name: string, change: (n: V1Node) => V1Node): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const cur = await ctx.core.readNode({ name });
    try {
      await ctx.core.replaceNode({ name, body: change(cur) });
      return;
    } catch (err) {
      if (code(err) !== 409) throw err;
    }
  }
  throw new Error(`node ${name}: too many update conflicts`);
}

/** The node with these labels, and its pool and tenant taints replaced by `taint`. */
function reshape(n: V1Node, labels: Record<string, string>, taint: V1Taint): V1Node {
  const taints = (n.spec?.taints ?? []).filter((t) => t.key !== LABELS.pool && t.key !== TENANT_TAINT_KEY);
  return { ...n, metadata: { ...n.metadata, labels }, spec: { ...n.spec, taints: [...taints, taint] } };
}

function reserve(n: V1Node, tenant: string): V1Node {
  const shape = reservedNodeShape(tenant);
  return reshape(n, { ...n.metadata?.labels, ...shape.labels }, shape.taint);
}

function release(n: V1Node): V1Node {
  const labels: Record<string, string> = { ...n.metadata?.labels, [LABELS.pool]: UNASSIGNED_POOL };
  delete labels[LABELS.tenant];
  return reshape(n, labels, { key: LABELS.pool, value: UNASSIGNED_POOL, effect: 'NoSchedule' });
}
