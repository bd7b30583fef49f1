import { FleetError } from '../core/errors';
import { BillingConfigSchema, DEFAULT_PRICE_TABLE } from './cost';
import { BillingConfigPatchSchema, patchBillingConfig } from './config';

const patch = (p: unknown) => BillingConfigPatchSchema.parse(p);

describe('patchBillingConfig', () => {
  it.each([
    [{}, { set: { intervalMinutes: 15 } }, { intervalMinutes: 15 }, ['intervalMinutes']],
    [{ intervalMinutes: 15 }, { set: { intervalMinutes: 15 } }, { intervalMinutes: 15 }, []],
    [{ intervalMinutes: 15 }, { unset: ['intervalMinutes'] }, {}, ['intervalMinutes']],
    [
      {},
      { set: { period: 'hour', maxTenantLabels: 50 } },
      { period: 'hour', maxTenantLabels: 50 },
      ['maxTenantLabels', 'period'],
    ],
  ])('%j + %j stores %j, changing %j', (stored, p, expected, changed) => {
    const r = patchBillingConfig(stored, patch(p));
    expect(r.stored).toEqual(expected);
    expect(r.changedKeys).toEqual(changed);
    expect(r.config).toEqual(BillingConfigSchema.parse(expected));
  });

  it('sets one price and keeps the rest of the table', () => {
    const r = patchBillingConfig({}, patch({ set: { 'prices.tiers.standard.cpuHour': 0.05 } }));
    expect(r.changedKeys).toEqual(['prices.tiers.standard.cpuHour']);
    expect(r.config.prices).toEqual({
      ...DEFAULT_PRICE_TABLE,
      tiers: { ...DEFAULT_PRICE_TABLE.tiers, standard: { ...DEFAULT_PRICE_TABLE.tiers.standard, cpuHour: 0.05 } },
    });
    const again = patchBillingConfig(r.stored, patch({ set: { 'prices.currency': 'EUR' } }));
    expect(again.config.prices.tiers.standard.cpuHour).toBe(0.05);
    expect(again.changedKeys).toEqual(['prices.currency']);
  });

  it.each([
    [{ set: { intervalMinutes: 7 } }, 'billing.intervalMinutes'],
    [{ set: { period: 'week' } }, 'billing.period'],
    [{ set: { 'prices.tiers.standard.cpuHour': -1 } }, 'billing.prices.tiers.standard.cpuHour'],
    [{ set: { 'prices.currency': 'dollars' } }, 'billing.prices.currency'],
    [{ set: { colour: 'red' } }, 'billing.colour'],
    [{ set: { 'prices.tiers.gold.cpuHour': 1 } }, 'billing.prices.tiers.gold.cpuHour'],
    [{ set: { 'intervalMinutes.x': 1 } }, 'billing.intervalMinutes.x'],
    [{ unset: ['colour'] }, 'billing.colour'],
  ])('%j is refused naming %s, and nothing is stored', (p, path) => {
    const stored = { intervalMinutes: 15 };
    let err: unknown;
    try {
      patchBillingConfig(stored, patch(p));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FleetError);
    expect((err as FleetError).code).toBe('INVALID_ARGUMENT');
    expect(JSON.stringify((err as FleetError).toJSON())).toContain(path);
    expect(stored).toEqual({ intervalMinutes: 15 });
  });
});
