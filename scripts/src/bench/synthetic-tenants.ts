import { HOUR_MS, type Tier, type UsageSample } from '@fleetforge/shared';
import { Prng } from '../load/prng';

export interface SyntheticTenant {
  name: string;
  tier: Tier;
}

/**
 * N synthetic tenants with a day of usage (004 § synthetic tenant generator): one
 * sample per tenant and hour, tiers mixed 50 % dev / 35 % standard / 15 % dedicated,
 * sizes spread over two orders of magnitude, and about 2 % of hours missing (the
 * gaps a real agent leaves). Seeded: the same seed gives the same tenants and usage.
 */
export function syntheticTenants(
  n: number,
  day: string,
  seed = 1,
): { tenants: SyntheticTenant[]; samples: UsageSample[] } {
  const rng = new Prng(seed);
  const u = () => rng.nextUint32() / 0x1_0000_0000;
  const dayStart = Date.parse(`${day}T00:00:00.000Z`);
  const tenants: SyntheticTenant[] = [];
  const samples: UsageSample[] = [];
  for (let i = 0; i < n; i++) {
    const r = u();
    const tier: Tier = r < 0.5 ? 'dev' : r < 0.85 ? 'standard' : 'dedicated';
    const name = `syn-${String(i).padStart(6, '0')}`;
    tenants.push({ name, tier });
    const cores = (tier === 'dedicated' ? 8 : tier === 'standard' ? 2 : 0.25) * (0.1 + u());
    const memGiB = cores * 2;
    for (let h = 0; h < 24; h++) {
      if (u() < 0.02) continue;
      const start = dayStart + h * HOUR_MS;
      samples.push({
        id: `syn:${name}:${start}`,
        tenant: name,
        tier,
        world: tier === 'dev' ? null : `${name}-w`,
        source: 'synthetic',
        estimated: tier === 'dedicated',
        agentId: 'synthetic',
        start: new Date(start).toISOString(),
        end: new Date(start + HOUR_MS).toISOString(),
        cpuMillis: Math.round(cores * HOUR_MS * (0.5 + u() / 2)),
        memoryMiBSeconds: Math.round(memGiB * 1024 * 3600),
        vclusterMillis: tier === 'standard' ? HOUR_MS : 0,
        cellMillis: tier === 'dev' ? 0 : HOUR_MS,
      });
    }
  }
  return { tenants, samples };
}
