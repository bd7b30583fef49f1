import { z } from 'zod';
import type { Tier } from '../tenancy/tenancy';
import { DAY_MS, HOUR_MS, PeriodSchema, QUANTITY_KEYS, type Quantities, type UsageSample } from './usage';

/** Unit prices of one tier, in the table's currency. */
export const UnitPricesSchema = z.strictObject({
  cpuHour: z.number().nonnegative(),
  memoryGiBHour: z.number().nonnegative(),
  vclusterHour: z.number().nonnegative(),
  cellHour: z.number().nonnegative(),
});
export type UnitPrices = z.infer<typeof UnitPricesSchema>;

export const PriceTableSchema = z.strictObject({
  currency: z.string().regex(/^[A-Z]{3}$/),
  tiers: z.strictObject({ dev: UnitPricesSchema, standard: UnitPricesSchema, dedicated: UnitPricesSchema }),
});
export type PriceTable = z.infer<typeof PriceTableSchema>;

/**
 * The PRD's tier pricing assumption (§ Assumptions): dev is free, standard is
 * metered pay-as-you-go, dedicated is reserved capacity (higher unit prices for
 * held capacity). The numbers are placeholders finance overrides in `config/billing`.
 */
export const DEFAULT_PRICE_TABLE: PriceTable = {
  currency: 'USD',
  tiers: {
    dev: { cpuHour: 0, memoryGiBHour: 0, vclusterHour: 0, cellHour: 0 },
    standard: { cpuHour: 0.04, memoryGiBHour: 0.005, vclusterHour: 0.1, cellHour: 0.01 },
    dedicated: { cpuHour: 0.06, memoryGiBHour: 0.008, vclusterHour: 0.1, cellHour: 0.02 },
  },
};

/** Default cap on tenant label values per metric (004 § cardinality guard). */
export const DEFAULT_MAX_TENANT_LABELS = 100;

/** `config/billing`: live billing configuration (read on every run). */
export const BillingConfigSchema = z.strictObject({
  /** The billing period closed by each scheduled export. */
  period: PeriodSchema.default('day'),
  /** How often the scheduler runs billingExport (hourly rollups by default). */
  intervalMinutes: z
    .number()
    .int()
    .min(1)
    .max(1440)
    .refine((m) => (m <= 60 ? 60 % m === 0 : m % 60 === 0 && 1440 % m === 0), {
      message: 'a divisor of 60, or a whole number of hours dividing 24 (a cron schedule must express it)',
    })
    .default(60),
  maxTenantLabels: z.number().int().min(1).max(10_000).default(DEFAULT_MAX_TENANT_LABELS),
  prices: PriceTableSchema.default(DEFAULT_PRICE_TABLE),
});
export type BillingConfig = z.infer<typeof BillingConfigSchema>;

/** Cost of some usage on a tier, rounded to millionths (the exports' precision). */
export function costOf(q: Quantities, tier: Tier, table: PriceTable): number {
  const p = table.tiers[tier];
  const raw =
    (q.cpuMillis / HOUR_MS) * p.cpuHour +
    (q.memoryMiBSeconds / 1024 / 3600) * p.memoryGiBHour +
    (q.vclusterMillis / HOUR_MS) * p.vclusterHour +
    (q.cellMillis / HOUR_MS) * p.cellHour;
  return Math.round(raw * 1e6) / 1e6;
}

function overlapShare(s: UsageSample, from: number, to: number): number {
  const a = Date.parse(s.start);
  const b = Date.parse(s.end);
  const o = Math.min(b, to) - Math.max(a, from);
  return o <= 0 ? 0 : o / (b - a);
}

/**
 * Two views of cost per tenant (004 § 1): `rolling` is the estimate over the last
 * `rollingMs` before `now` (samples overlapping its edge count pro rata; an
 * observation, it slides); `window` is the billing window containing `now`, cut at
 * UTC midnight (what the invoice will say so far). Samples must be deduplicated.
 */
export function tenantCosts(
  samples: readonly UsageSample[],
  now: number,
  table: PriceTable,
  rollingMs = HOUR_MS,
): { rolling: Map<string, number>; window: Map<string, number> } {
  const rolling = new Map<string, number>();
  const window = new Map<string, number>();
  const dayStart = Math.floor(now / DAY_MS) * DAY_MS;
  for (const s of samples) {
    const start = Date.parse(s.start);
    const share = overlapShare(s, now - rollingMs, now);
    if (share > 0) {
      const q = Object.fromEntries(QUANTITY_KEYS.map((k) => [k, s[k] * share])) as Quantities;
      rolling.set(s.tenant, (rolling.get(s.tenant) ?? 0) + costOf(q, s.tier, table));
    }
    if (start >= dayStart && start < now) window.set(s.tenant, (window.get(s.tenant) ?? 0) + costOf(s, s.tier, table));
  }
  return { rolling, window };
}

/** The label value extra tenants are folded into. */
export const OTHER_TENANT_LABEL = 'other';

/**
 * Cardinality guard: at most `max` tenant label values. The `max - 1` largest
 * (ties by name) keep their own series; the rest are summed into `other`, so the
 * total is conserved. A real tenant named `other` is counted in that bucket.
 */
export function guardTenantLabels(
  values: ReadonlyMap<string, number>,
  max: number,
): { series: Map<string, number>; folded: string[] } {
  if (values.size <= max) return { series: new Map(values), folded: [] };
  const sorted = [...values].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0));
  const keep = sorted.slice(0, Math.max(0, max - 1)).filter(([t]) => t !== OTHER_TENANT_LABEL);
  const series = new Map(keep);
  const folded = sorted.filter(([t]) => !series.has(t)).map(([t]) => t);
  series.set(
    OTHER_TENANT_LABEL,
    folded.reduce((sum, t) => sum + values.get(t)!, 0),
  );
  return { series, folded: folded.sort() };
}

/**
 * The Cloud Scheduler cron for a run interval. Hourly and longer runs fire at
 * minute 5, after the agents' last samples of the closed hour have arrived.
 */
export function intervalCron(minutes: number): string {
  if (minutes === 1) return '* * * * *';
  if (minutes < 60) return `*/${minutes} * * * *`;
  const hours = minutes / 60;
  if (hours === 1) return '5 * * * *';
  if (hours === 24) return '5 0 * * *';
  return `5 */${hours} * * *`;
}

/**
 * When the {@link intervalCron} schedule next fires strictly after `afterMs` (UTC):
 * what the local scheduler runner uses so it runs billingExport when Cloud
 * Scheduler would. Valid intervals divide the hour or the day, so the firings are
 * a fixed period from the epoch, offset by the 5 minutes of the hourly crons.
 */
export function nextCronRun(minutes: number, afterMs: number): number {
  const period = minutes * 60_000;
  const offset = minutes >= 60 ? 5 * 60_000 : 0;
  return (Math.floor((afterMs - offset) / period) + 1) * period + offset;
}
