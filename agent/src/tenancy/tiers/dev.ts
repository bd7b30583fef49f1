import { devTenantObjects, tenantNamespace, type TenantSpec } from '@fleetforge/shared';
import { until, type TierContext } from './context';

/** The dev tier: a namespace with quota, limits and a default-deny network policy. */
export async function provisionDev(
  ctx: TierContext,
  spec: TenantSpec,
  timeoutMs = ctx.o.readyTimeoutMs ?? 60_000,
): Promise<void> {
  await ctx.apply(devTenantObjects(spec));
  const ns = tenantNamespace(spec.name);
  // Ready when the quota controller has computed usage: from then on admission enforces it.
  await until(`quota of ${ns}`, timeoutMs, async () => {
    const q = await ctx.core.readNamespacedResourceQuota({ name: 'tenant-quota', namespace: ns });
    return q.status?.hard !== undefined && q.status.used !== undefined;
  });
}
