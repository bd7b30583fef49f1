import type { Driver, Tier } from '@fleetforge/shared';
import { ProcessDriver } from '../drivers/process-driver';
import type { ObservedNamespace } from '../tenancy/kube-tenants';
import type { MeterTarget } from './meter';
import { readProc } from './procfs';

export interface TargetOptions {
  /**
   * The platform tenant and its tier: cells whose start command named no tenant (a world
   * without `spec.tenant`, or a command from before worlds had one) are billed to it, and
   * a tenant's cells whose command carried no tier are billed on this tier.
   */
  tenant: string;
  tier: Tier;
  /** Kubernetes driver: the cell pods' requests (its defaults: 100m CPU, 64 MiB). */
  podCpuMillicores: number;
  podMemoryBytes: number;
}

/** Whom a cell is billed to: its world's tenant as its start command named it, else the platform's. */
function billedTo(c: { tenant?: string | null; tier?: Tier | null }, o: TargetOptions): { tenant: string; tier: Tier } {
  return { tenant: c.tenant ?? o.tenant, tier: c.tier ?? o.tier };
}

/**
 * What to meter for a driver: the process driver's real cell processes (measured
 * from /proc), or the Kubernetes driver's pods (requests × time, `estimated`). Each
 * cell is billed to its world's tenant on that tenant's tier.
 */
export function cellTargets(driver: Driver, o: TargetOptions): () => MeterTarget[] {
  if (driver instanceof ProcessDriver) {
    return () =>
      driver.processes().map((p) => ({
        key: `${p.world}/${p.cell}/${p.incarnation}`,
        ...billedTo(p, o),
        world: p.world,
        source: 'process',
        estimated: false,
        read: () => {
          const r = readProc(p.pid);
          return r && { kind: 'cumulative', ...r };
        },
      }));
  }
  return () =>
    driver
      .list()
      .filter((c) => c.phase !== 'stopping')
      .map((c) => ({
        key: `${c.world}/${c.cell}/${c.incarnation}`,
        ...billedTo(c, o),
        world: c.world,
        source: 'kubernetes',
        estimated: true,
        read: () => ({ kind: 'rate', cpuMillicores: o.podCpuMillicores, memoryBytes: o.podMemoryBytes }),
      }));
}

export interface TenantTargetOptions {
  /** An observation older than this is not billed from (the executor's sampling stalled): a gap. */
  maxAgeMs: number;
  now?: () => number;
}

/**
 * What to meter for tenants, from what the tenant executor last observed of each tenant
 * namespace (Kubernetes only: the process driver's executor has no cluster, so no tenant
 * namespaces and no vclusters, and this is empty):
 *
 * - `pods:<namespace>`: the namespace's pods, their requests × time (`estimated`), and
 *   pod time, on the tier its labels give (a dev namespace stays dev during an upgrade);
 * - `vcluster:<tenant>`: a standard tenant's vcluster, vcluster time while it answers
 *   healthy. Time it was not seen healthy is never billed.
 *
 * Cell pods run in the cells' namespace, not a tenant's, so nothing is counted twice.
 */
export function tenantTargets(observed: () => ObservedNamespace[], o: TenantTargetOptions): () => MeterTarget[] {
  const now = o.now ?? Date.now;
  return () => {
    const fresh = observed().filter((n) => now() - n.at <= o.maxAgeMs);
    const targets: MeterTarget[] = fresh.map((n) => ({
      key: `pods:${n.namespace}`,
      tenant: n.tenant,
      tier: n.tier,
      world: null,
      source: 'kubernetes',
      estimated: true,
      read: () => ({
        kind: 'rate',
        cpuMillicores: n.cpuRequestMillis,
        memoryBytes: n.memoryRequestMiB * 2 ** 20,
        pods: n.pods,
      }),
    }));
    for (const n of fresh) {
      if (!n.vcluster) continue;
      const upSince = n.vcluster.healthy ? n.vcluster.healthySince : null;
      targets.push({
        key: `vcluster:${n.tenant}`,
        tenant: n.tenant,
        tier: n.tier,
        world: null,
        source: 'kubernetes',
        // Uptime is what the health probe saw, not an estimate from requests.
        estimated: false,
        read: () => ({ kind: 'vcluster', upSince }),
      });
    }
    return targets;
  };
}
