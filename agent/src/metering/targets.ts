import type { Driver, Tier } from '@fleetforge/shared';
import { ProcessDriver } from '../drivers/process-driver';
import type { MeterTarget } from './meter';
import { readProc } from './procfs';

export interface TargetOptions {
  /** Worlds carry no tenant yet: the agent attributes its cells to this tenant and tier. */
  tenant: string;
  tier: Tier;
  /** Kubernetes driver: the cell pods' requests (its defaults: 100m CPU, 64 MiB). */
  podCpuMillicores: number;
  podMemoryBytes: number;
}

/**
 * What to meter for a driver: the process driver's real cell processes (measured
 * from /proc), or the Kubernetes driver's pods (requests × time, `estimated`).
 */
export function cellTargets(driver: Driver, o: TargetOptions): () => MeterTarget[] {
  if (driver instanceof ProcessDriver) {
    return () =>
      driver.processes().map((p) => ({
        key: `${p.world}/${p.cell}/${p.incarnation}`,
        tenant: o.tenant,
        tier: o.tier,
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
        tenant: o.tenant,
        tier: o.tier,
        world: c.world,
        source: 'kubernetes',
        estimated: true,
        read: () => ({ kind: 'rate', cpuMillicores: o.podCpuMillicores, memoryBytes: o.podMemoryBytes }),
      }));
}
