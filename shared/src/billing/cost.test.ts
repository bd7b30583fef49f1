import fc from 'fast-check';
import {
  BillingConfigSchema,
  intervalCron,
  nextCronRun,
  DEFAULT_PRICE_TABLE,
  OTHER_TENANT_LABEL,
  costOf,
  guardTenantLabels,
  tenantCosts,
} from './cost';
import { UsageSampleSchema, type UsageSample } from './usage';

const zero = { cpuMillis: 0, memoryMiBSeconds: 0, vclusterMillis: 0, cellMillis: 0 };

function s(id: string, tenant: string, start: string, end: string, cpuMillis: number): UsageSample {
  return UsageSampleSchema.parse({
    id,
    tenant,
    tier: 'standard',
    source: 'process',
    estimated: false,
    agentId: 'a',
    start,
    end,
    ...zero,
    cpuMillis,
  });
}

describe('costOf', () => {
  it.each([
    ['dev is free', 'dev', { ...zero, cpuMillis: 3_600_000 }, 0],
    ['one standard CPU-hour', 'standard', { ...zero, cpuMillis: 3_600_000 }, 0.04],
    ['one GiB-hour on dedicated', 'dedicated', { ...zero, memoryMiBSeconds: 1024 * 3600 }, 0.008],
    ['a vcluster hour', 'standard', { ...zero, vclusterMillis: 3_600_000 }, 0.1],
    ['half a cell hour on dedicated', 'dedicated', { ...zero, cellMillis: 1_800_000 }, 0.01],
  ] as const)('%s', (_name, tier, q, expected) => {
    expect(costOf(q, tier, DEFAULT_PRICE_TABLE)).toBeCloseTo(expected, 9);
  });

  it('config defaults to a daily window, hourly runs and 100 tenant labels', () => {
    expect(BillingConfigSchema.parse({})).toEqual({
      period: 'day',
      intervalMinutes: 60,
      maxTenantLabels: 100,
      prices: DEFAULT_PRICE_TABLE,
    });
  });
});

describe('tenantCosts: rolling 1 h vs the daily billing window', () => {
  const now = Date.parse('2026-11-22T00:30:00.000Z');
  const samples = [
    // Yesterday, 23:50: inside the rolling hour, outside today's billing window.
    s('y', 'acme', '2026-11-21T23:50:00.000Z', '2026-11-21T23:55:00.000Z', 3_600_000),
    // Today 00:10: in both.
    s('t', 'acme', '2026-11-22T00:10:00.000Z', '2026-11-22T00:20:00.000Z', 3_600_000),
    // Half of it overlaps the rolling hour (23:20..23:40, the hour starts 23:30).
    s('h', 'beta', '2026-11-21T23:20:00.000Z', '2026-11-21T23:40:00.000Z', 3_600_000),
  ];

  it('prorates samples on the rolling edge and cuts the window at UTC midnight', () => {
    const { rolling, window } = tenantCosts(samples, now, DEFAULT_PRICE_TABLE);
    expect(rolling.get('acme')).toBeCloseTo(0.08, 9);
    expect(rolling.get('beta')).toBeCloseTo(0.02, 9);
    expect(window.get('acme')).toBeCloseTo(0.04, 9);
    expect(window.has('beta')).toBe(false);
  });
});

describe('guardTenantLabels', () => {
  it('leaves a small set alone', () => {
    const v = new Map([
      ['a', 1],
      ['b', 2],
    ]);
    expect(guardTenantLabels(v, 2)).toEqual({ series: v, folded: [] });
  });

  it('keeps the largest max-1 tenants and folds the rest into other', () => {
    const v = new Map([
      ['a', 1],
      ['b', 5],
      ['c', 3],
      ['d', 3],
    ]);
    const g = guardTenantLabels(v, 3);
    expect([...g.series]).toEqual([
      ['b', 5],
      ['c', 3],
      [OTHER_TENANT_LABEL, 4],
    ]);
    expect(g.folded).toEqual(['a', 'd']);
  });

  it('never exceeds max series and conserves the total (property)', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/), fc.integer({ min: 0, max: 1e6 }), { maxKeys: 300 }),
        fc.integer({ min: 1, max: 50 }),
        (obj, max) => {
          const values = new Map(Object.entries(obj));
          const g = guardTenantLabels(values, max);
          expect(g.series.size).toBeLessThanOrEqual(Math.max(max, values.size <= max ? values.size : max));
          const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
          expect(sum(g.series)).toBe(sum(values));
          for (const t of g.folded) expect(g.series.has(t)).toBe(t === OTHER_TENANT_LABEL);
        },
      ),
    );
  });
});

describe('intervalCron', () => {
  it.each([
    [1, '* * * * *'],
    [15, '*/15 * * * *'],
    [60, '5 * * * *'],
    [180, '5 */3 * * *'],
    [1440, '5 0 * * *'],
  ])('%i minutes is %s', (m, cron) => {
    expect(intervalCron(m)).toBe(cron);
  });

  it.each([
    [1, '2026-12-02T10:17:30.000Z', '2026-12-02T10:18:00.000Z'],
    [15, '2026-12-02T10:17:30.000Z', '2026-12-02T10:30:00.000Z'],
    [15, '2026-12-02T10:30:00.000Z', '2026-12-02T10:45:00.000Z'],
    [60, '2026-12-02T10:04:59.999Z', '2026-12-02T10:05:00.000Z'],
    [60, '2026-12-02T10:05:00.000Z', '2026-12-02T11:05:00.000Z'],
    [180, '2026-12-02T10:17:00.000Z', '2026-12-02T12:05:00.000Z'],
    [1440, '2026-12-02T00:05:00.000Z', '2026-12-03T00:05:00.000Z'],
    [1440, '2026-12-31T23:59:00.000Z', '2027-01-01T00:05:00.000Z'],
  ])('every %i minutes, after %s the cron next fires at %s', (m, after, next) => {
    expect(new Date(nextCronRun(m, Date.parse(after))).toISOString()).toBe(next);
  });

  it('nextCronRun fires on the minutes and hours its cron names, and only there', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440),
        fc.integer({ min: Date.parse('2020-01-01T00:00:00Z'), max: Date.parse('2030-01-01T00:00:00Z') }),
        (m, after) => {
          const next = nextCronRun(m, after);
          const d = new Date(next);
          const [minute, hour] = intervalCron(m).split(' ');
          const matches = (field: string, v: number) =>
            field === '*' || (field.startsWith('*/') ? v % Number(field.slice(2)) === 0 : v === Number(field));
          return (
            next > after &&
            next - after <= m * 60_000 &&
            d.getUTCSeconds() === 0 &&
            d.getUTCMilliseconds() === 0 &&
            matches(minute!, d.getUTCMinutes()) &&
            matches(hour!, d.getUTCHours())
          );
        },
      ),
    );
  });

  it.each([7, 90, 300])('config refuses %i minutes (no cron expresses it)', (m) => {
    expect(BillingConfigSchema.safeParse({ intervalMinutes: m }).success).toBe(false);
  });
});
