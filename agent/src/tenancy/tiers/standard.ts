import { randomBytes } from 'node:crypto';
import { request } from 'node:https';
import type { V1Pod } from '@kubernetes/client-node';
import { standardTenantObjects, vclusterNamespace, type TenantSpec } from '@fleetforge/shared';
import type { ProgressInput } from '../executor';
import { decode, tolerate, until, type TierContext } from './context';
import { podReady } from './resources';

/** A standard tenant's vcluster once it serves. */
export interface Vcluster {
  server: string;
  kubeconfig: string;
  /** What its /readyz answered. */
  health: number;
  /** Where its control plane runs. */
  nodes: string[];
}

/** Its kubeconfig (`config`, `server`), written by the vcluster. */
const kubeconfigSecret = (tenant: string) => `vc-${tenant}`;
/** Its admin token (`token`), written by the agent. */
const tokenSecret = (tenant: string) => `vc-${tenant}-token`;

/** The standard tier: a vcluster in its own namespace on the shared pool, ready when /readyz answers 200. */
export async function provisionStandard(
  ctx: TierContext,
  spec: TenantSpec,
  timeoutMs = ctx.o.readyTimeoutMs ?? 90_000,
): Promise<Vcluster> {
  const ns = vclusterNamespace(spec.name);
  let token = randomBytes(24).toString('hex');
  // The namespace (and the agent's binding in it) first: only then may the agent read its secrets.
  await ctx.apply(standardTenantObjects({ ...spec, tier: 'standard' }, token).filter((o) => o.kind === 'Namespace'));
  const existing = await tolerate(404, () =>
    ctx.core.readNamespacedSecret({ name: tokenSecret(spec.name), namespace: ns }),
  );
  const t = existing?.data?.token;
  if (t) token = decode(t);
  await ctx.apply(standardTenantObjects({ ...spec, tier: 'standard' }, token));
  let pod: V1Pod | undefined;
  await until(`vcluster ${spec.name} pod ready`, timeoutMs, async () => {
    const pods = await ctx.core.listNamespacedPod({
      namespace: ns,
      labelSelector: `app=vcluster,release=${spec.name}`,
    });
    pod = pods.items.find(podReady);
    return pod !== undefined;
  });
  let kubeconfig = '';
  let server = '';
  // Not there yet reads as a 404, which `until` waits out.
  await until(`vcluster ${spec.name} kubeconfig secret`, timeoutMs, async () => {
    const s = await ctx.core.readNamespacedSecret({ name: kubeconfigSecret(spec.name), namespace: ns });
    kubeconfig = decode(s.data?.config);
    server = decode(s.data?.server);
    return kubeconfig.length > 0;
  });
  const health = await vclusterHealth(server, token);
  if (health !== 200) throw new Error(`vcluster ${spec.name} health endpoint answered ${health}`);
  return { server, kubeconfig, health, nodes: pod?.spec?.nodeName ? [pod.spec.nodeName] : [] };
}

/** What a Ready report says of a tenant served by its vcluster. */
export function servedBy(
  tenant: string,
  vc: Vcluster,
  reason: string,
): Pick<ProgressInput, 'namespace' | 'vcluster' | 'kubeconfig' | 'placement'> {
  return {
    namespace: vclusterNamespace(tenant),
    vcluster: { server: vc.server, healthy: vc.health === 200 },
    kubeconfig: vc.kubeconfig,
    placement: { nodes: vc.nodes, namespace: vclusterNamespace(tenant), reason },
  };
}

/** A standard tenant's vcluster, probed as its admin would: /readyz with the tenant token. Null for other tiers. */
export async function vclusterProbe(
  ctx: TierContext,
  ns: string,
  tenant: string,
): Promise<{ server: string; healthy: boolean } | null> {
  if (ns !== vclusterNamespace(tenant)) return null;
  try {
    const s = await ctx.core.readNamespacedSecret({ name: kubeconfigSecret(tenant), namespace: ns });
    const token = await ctx.core.readNamespacedSecret({ name: tokenSecret(tenant), namespace: ns });
    const server = decode(s.data?.server);
    return { server, healthy: (await vclusterHealth(server, decode(token.data?.token))) === 200 };
  } catch {
    return null; // not provisioned yet (or being removed): nothing to say about health
  }
}

/** GET /readyz on a vcluster's API server with its admin token; the status code. */
async function vclusterHealth(server: string, token: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      `${server}/readyz`,
      { rejectUnauthorized: false, headers: { authorization: `Bearer ${token}` }, timeout: 3000 },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}
