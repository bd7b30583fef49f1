import { UsageSampleSchema, rollup } from '@fleetforge/shared';
import { syntheticTenants } from './synthetic-tenants';

describe('syntheticTenants', () => {
  it('is deterministic, valid and spread over the tiers, with a few gaps', () => {
    const a = syntheticTenants(400, '2026-11-21', 7);
    expect(syntheticTenants(400, '2026-11-21', 7)).toEqual(a);
    expect(new Set(a.tenants.map((t) => t.name)).size).toBe(400);
    for (const s of a.samples.slice(0, 500)) expect(() => UsageSampleSchema.parse(s)).not.toThrow();
    const tiers = a.tenants.map((t) => t.tier);
    for (const tier of ['dev', 'standard', 'dedicated'] as const) {
      expect(tiers.filter((t) => t === tier).length).toBeGreaterThan(20);
    }
    expect(a.samples.length).toBeLessThan(400 * 24);
    expect(a.samples.length).toBeGreaterThan(400 * 24 * 0.95);
    const lines = rollup(a.samples, 'day').lines;
    expect(lines.every((l) => l.window === '2026-11-21')).toBe(true);
    expect(lines.length).toBe(400);
  });
});
