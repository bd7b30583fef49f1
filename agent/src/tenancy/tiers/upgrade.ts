import { AppsV1Api, KubeConfig, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import { tenantNamespace, vclusterNamespace, type KubeObject, type TenantCommand } from '@fleetforge/shared';
import type { Report } from '../executor';
import { AvailabilityMonitor } from './availability';
import { deleteNamespace, describe, until, type TierContext } from './context';
import { provisionStandard, servedBy } from './standard';

/**
 * The dev→standard upgrade. Make-before-break: the dev namespace keeps serving
 * until the same workloads run inside the new vcluster; only then is it
 * decommissioned. A failure at any step removes the half-built vcluster and
 * leaves the dev tenant as it was.
 */
export async function upgrade(ctx: TierContext, cmd: TenantCommand, report: Report): Promise<void> {
  const spec = cmd.spec;
  const devNs = tenantNamespace(spec.name);
  let step = 'export';
  const started = (s: string) =>
    report({
      phase: 'Upgrading',
      message: `upgrade: ${s}`,
      upgrade: { outcome: 'Started', step: s, downtimeMs: null, workloads: 0 },
    });
  const monitor = new AvailabilityMonitor(ctx.core, devNs);
  try {
    await started(step);
    const exported = await exportNamespace(ctx, devNs);
    const deployments = exported.filter((o) => o.kind === 'Deployment').map((o) => o.metadata.name);
    monitor.start(deployments);

    step = 'provision';
    await started(step);
    const vc = await provisionStandard(ctx, { ...spec, tier: 'standard' });
    if (cmd.failAt === 'provision') throw new Error('injected failure after provisioning the vcluster');
    const virtual = new KubeConfig();
    virtual.loadFromString(vc.kubeconfig);
    const vapi = KubernetesObjectApi.makeApiClient(virtual);
    const vapps = virtual.makeApiClient(AppsV1Api);
    monitor.virtual(vapps);

    step = 'reapply';
    await started(step);
    await ctx.apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: devNs } }], vapi);
    const inVc = exported.map((o) => ({ ...o, metadata: { ...o.metadata, namespace: devNs } }));
    if (cmd.failAt === 'reapply') {
      await ctx.apply(inVc.slice(0, Math.ceil(inVc.length / 2)), vapi);
      throw new Error('injected failure halfway through reapplying workloads');
    }
    await ctx.apply(inVc, vapi);

    step = 'validate';
    await started(step);
    if (cmd.failAt === 'validate') throw new Error('injected failure while validating workloads in the vcluster');
    await until('workloads available in the vcluster', ctx.o.readyTimeoutMs ?? 120_000, async () => {
      for (const d of deployments) {
        const dep = await vapps.readNamespacedDeployment({ name: d, namespace: devNs });
        const want = dep.spec?.replicas ?? 1;
        if ((dep.status?.availableReplicas ?? 0) < want) return false;
      }
      return true;
    });

    step = 'decommission';
    await started(step);
    await deleteNamespace(ctx, devNs);
    const downtimeMs = await monitor.stop();
    await report({
      phase: 'Ready',
      message: `upgraded to standard: ${exported.length} object(s), ${deployments.length} deployment(s) running in vcluster ${spec.name}; dev namespace decommissioned`,
      ...servedBy(spec.name, vc, 'upgrade from dev'),
      upgrade: { outcome: 'Completed', step: 'done', downtimeMs, workloads: exported.length },
    });
  } catch (err) {
    await monitor.stop();
    ctx.log('upgrade failed; rolling back', { tenant: spec.name, step, err: String(err) });
    let rollback = 'vcluster removed';
    try {
      await deleteNamespace(ctx, vclusterNamespace(spec.name));
    } catch (e) {
      rollback = `vcluster removal failed: ${describe(e)}`;
    }
    await report({
      phase: 'Ready',
      message: `upgrade failed at ${step}: ${describe(err)}; ${rollback}; the dev namespace keeps serving`,
      namespace: devNs,
      upgrade: { outcome: 'Failed', step, downtimeMs: null, workloads: 0 },
    });
  }
}

/** The tenant's own objects in a namespace (what `kubectl get -o yaml` would export), ready to reapply. */
export async function exportNamespace(ctx: TierContext, ns: string): Promise<KubeObject[]> {
  const [cms, secrets, services, deployments, statefulsets] = await Promise.all([
    ctx.core.listNamespacedConfigMap({ namespace: ns }),
    ctx.core.listNamespacedSecret({ namespace: ns }),
    ctx.core.listNamespacedService({ namespace: ns }),
    ctx.apps.listNamespacedDeployment({ namespace: ns }),
    ctx.apps.listNamespacedStatefulSet({ namespace: ns }),
  ]);
  const tag = <T extends object>(items: T[], apiVersion: string, kind: string) =>
    items.map((i) => exportable({ ...(i as KubernetesObject & Record<string, unknown>), apiVersion, kind }));
  return [
    ...tag(
      cms.items.filter((c) => c.metadata?.name !== 'kube-root-ca.crt'),
      'v1',
      'ConfigMap',
    ),
    ...tag(
      secrets.items.filter((s) => s.type === 'Opaque'),
      'v1',
      'Secret',
    ),
    ...tag(services.items, 'v1', 'Service'),
    ...tag(deployments.items, 'apps/v1', 'Deployment'),
    ...tag(statefulsets.items, 'apps/v1', 'StatefulSet'),
  ];
}

/** Strips what the server owns, so an exported object can be applied elsewhere. */
export function exportable(obj: KubernetesObject & Record<string, unknown>): KubeObject {
  const md = obj.metadata ?? {};
  const annotations = Object.fromEntries(
    Object.entries(md.annotations ?? {}).filter(
      ([k]) => !k.startsWith('kubectl.kubernetes.io/') && !k.startsWith('deployment.kubernetes.io/'),
    ),
  );
  const out: KubeObject = {
    ...obj,
    apiVersion: obj.apiVersion!,
    kind: obj.kind!,
    metadata: { name: md.name!, labels: md.labels ?? {}, annotations },
  };
  delete out.status;
  if (out.kind === 'Service' && out.spec && typeof out.spec === 'object') {
    const { clusterIP: _ip, clusterIPs: _ips, ...spec } = out.spec as Record<string, unknown>;
    out.spec = spec;
  }
  return out;
}
