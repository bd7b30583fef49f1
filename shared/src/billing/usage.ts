import { z } from 'zod';
import { FleetError } from '../core/errors';
import { IsoTimeSchema } from '../world/model';
import { TierSchema, type Tier } from '../tenancy/tenancy';
import { NameSchema } from '../world/world';

/**
 * Usage metering, pure. Quantities are integers in fine units, so sums are exact
 * and "totals conserve across windows" is an equality, not a tolerance.
 */
export const QUANTITY_KEYS = ['cpuMillis', 'memoryMiBSeconds', 'vclusterMillis', 'cellMillis'] as const;
export type QuantityKey = (typeof QUANTITY_KEYS)[number];
export type Quantities = Record<QuantityKey, number>;

const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const QuantitiesSchema = z.strictObject({
  /** CPU time, CPU-milliseconds. */
  cpuMillis: count,
  /**
   * Resident memory integrated over time (byte-seconds), counted in MiB-seconds
   * (2^20 byte-seconds) so a fleet's yearly total stays an exact integer.
   */
  memoryMiBSeconds: count,
  /** vcluster control-plane uptime, milliseconds (standard tier). */
  vclusterMillis: count,
  /** Time a cell (process driver) or pod (Kubernetes) ran, milliseconds. */
  cellMillis: count,
});

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
export const PeriodSchema = z.enum(['hour', 'day']);
export type Period = z.infer<typeof PeriodSchema>;
export const PERIOD_MS: Record<Period, number> = { hour: HOUR_MS, day: DAY_MS };

/** Sample ids become document ids: no slashes. */
export const SampleIdSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9._:-]+$/, 'letters, digits, . _ : -');

/**
 * One measured interval of one tenant (and world, for cells). Idempotent by `id`:
 * the same id twice is one sample. An interval never crosses an hour boundary
 * (the meter cuts it there, `splitAtBoundaries`), so it belongs to exactly one
 * hourly and one daily window: the one its `start` is in.
 */
export const UsageSampleSchema = z
  .strictObject({
    id: SampleIdSchema,
    tenant: NameSchema,
    tier: TierSchema,
    world: NameSchema.nullable().default(null),
    /** process: measured from the real OS process; kubernetes: pod requests × time; vcluster: control-plane uptime. */
    source: z.enum(['process', 'kubernetes', 'vcluster', 'synthetic']),
    /** True when derived from requests or limits rather than measured consumption. */
    estimated: z.boolean(),
    agentId: z.string().min(1).max(200),
    start: IsoTimeSchema,
    end: IsoTimeSchema,
    ...QuantitiesSchema.shape,
  })
  .superRefine((s, ctx) => {
    const a = Date.parse(s.start);
    const b = Date.parse(s.end);
    if (!(b > a)) ctx.addIssue({ code: 'custom', path: ['end'], message: 'end must be after start' });
    else if (Math.floor(a / HOUR_MS) !== Math.floor((b - 1) / HOUR_MS)) {
      ctx.addIssue({ code: 'custom', path: ['end'], message: 'a sample must not cross an hour boundary' });
    }
  });
export type UsageSample = z.infer<typeof UsageSampleSchema>;

/** `agent-reports`, kind usage: a batch of samples (idempotent by sample id). */
export const UsageReportSchema = z.strictObject({
  kind: z.literal('usage'),
  agentId: z.string().min(1),
  at: IsoTimeSchema,
  samples: z.array(UsageSampleSchema).min(1).max(500),
  correlationId: z.string().min(1),
});
export type UsageReport = z.infer<typeof UsageReportSchema>;

export function zeroQuantities(): Quantities {
  return { cpuMillis: 0, memoryMiBSeconds: 0, vclusterMillis: 0, cellMillis: 0 };
}

export function addQuantities(into: Quantities, q: Quantities): Quantities {
  for (const k of QUANTITY_KEYS) into[k] += q[k];
  return into;
}

/* ---------- windows ---------- */

/** A half-open window [start, end) cut at UTC hours or UTC midnights. */
export interface BillingWindow {
  /** `2026-11-21` (day) or `2026-11-21T13` (hour). */
  id: string;
  period: Period;
  start: string;
  end: string;
}

/**
 * The window containing instant `t` (ms). Epoch milliseconds have no leap seconds
 * and the epoch is a UTC midnight, so flooring cuts exactly at UTC midnight/hours.
 */
export function windowOf(t: number, period: Period): BillingWindow {
  const ms = PERIOD_MS[period];
  const start = Math.floor(t / ms) * ms;
  const iso = new Date(start).toISOString();
  return {
    id: period === 'day' ? iso.slice(0, 10) : iso.slice(0, 13),
    period,
    start: iso,
    end: new Date(start + ms).toISOString(),
  };
}

export const WindowIdSchema = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}(T\d{2})?$/, 'a UTC day (2026-11-21) or hour (2026-11-21T13)');

/** Parses `2026-11-21` or `2026-11-21T13`; INVALID_ARGUMENT for anything else. */
export function parseWindowId(id: string): BillingWindow {
  const m = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}))?$/.exec(id);
  const t = m ? Date.parse(`${m[1]}T${m[2] ?? '00'}:00:00.000Z`) : NaN;
  const period: Period = m?.[2] === undefined ? 'day' : 'hour';
  if (!m || Number.isNaN(t) || windowOf(t, period).id !== id) {
    throw new FleetError('INVALID_ARGUMENT', `invalid billing window ${JSON.stringify(id)}`, {
      issues: [{ path: 'window', message: 'a UTC day (2026-11-21) or hour (2026-11-21T13)' }],
    });
  }
  return windowOf(t, period);
}

/** The window a sample counts in: the one its start lies in. */
export function sampleWindow(sample: Pick<UsageSample, 'start'>, period: Period): BillingWindow {
  return windowOf(Date.parse(sample.start), period);
}

/* ---------- splitting a measured interval at boundaries ---------- */

export interface MeasuredInterval {
  startMs: number;
  endMs: number;
  quantities: Quantities;
}

/**
 * Cuts [startMs, endMs) at every multiple of `periodMs` and shares each quantity
 * by duration. Integer shares are floors with the remainder on the last piece, so
 * the pieces sum exactly to the whole (conservation).
 */
export function splitAtBoundaries(interval: MeasuredInterval, periodMs = HOUR_MS): MeasuredInterval[] {
  const { startMs, endMs } = interval;
  if (!(endMs > startMs)) return [];
  const cuts: number[] = [startMs];
  for (let b = Math.floor(startMs / periodMs) * periodMs + periodMs; b < endMs; b += periodMs) cuts.push(b);
  cuts.push(endMs);
  const total = BigInt(endMs - startMs);
  const pieces: MeasuredInterval[] = [];
  const given = zeroQuantities();
  for (let i = 0; i + 1 < cuts.length; i++) {
    const last = i + 2 === cuts.length;
    const dur = BigInt(cuts[i + 1]! - cuts[i]!);
    const q = zeroQuantities();
    for (const k of QUANTITY_KEYS) {
      q[k] = last ? interval.quantities[k] - given[k] : Number((BigInt(interval.quantities[k]) * dur) / total);
      given[k] += q[k];
    }
    pieces.push({ startMs: cuts[i]!, endMs: cuts[i + 1]!, quantities: q });
  }
  return pieces;
}

/* ---------- rollups ---------- */

/** One tenant's usage on one tier in one window. */
export interface RollupLine extends Quantities {
  window: string;
  tenant: string;
  tier: Tier;
  samples: number;
  /** Some of it came from requests × time rather than measurement. */
  estimated: boolean;
  /** Worlds (cells) that contributed. */
  worlds: number;
  /** Time between consecutive samples of one stream that no sample covers (reported, never filled in). */
  gapMillis: number;
}

export interface RollupResult {
  lines: RollupLine[];
  /** Samples seen again with the same id and content: counted once. */
  duplicates: number;
  /** Samples seen again with the same id but other content: the first is kept. */
  conflicts: string[];
}

/** A gap shorter than this between two samples of one stream is jitter, not a gap. */
export const GAP_TOLERANCE_MS = 5_000;

function sameSample(a: UsageSample, b: UsageSample): boolean {
  return (Object.keys(a) as (keyof UsageSample)[]).every((k) => a[k] === b[k]);
}

/** Keeps one sample per id; reports duplicates and conflicting re-uses of an id. */
export function dedupeSamples(samples: readonly UsageSample[]): RollupResult & { samples: UsageSample[] } {
  const byId = new Map<string, UsageSample>();
  let duplicates = 0;
  const conflicts: string[] = [];
  for (const s of samples) {
    const seen = byId.get(s.id);
    if (!seen) byId.set(s.id, s);
    else if (sameSample(seen, s)) duplicates++;
    else conflicts.push(s.id);
  }
  return { samples: [...byId.values()], lines: [], duplicates, conflicts };
}

/**
 * Sums samples per (window, tenant, tier). Idempotent by sample id: duplicates
 * and replays never double count. Lines come sorted by window, tenant, tier.
 */
export function rollup(samples: readonly UsageSample[], period: Period): RollupResult {
  const d = dedupeSamples(samples);
  const lines = new Map<string, RollupLine & { worldSet: Set<string> }>();
  const streams = new Map<string, UsageSample[]>();
  for (const s of d.samples) {
    const window = sampleWindow(s, period).id;
    const key = `${window}\u0000${s.tenant}\u0000${s.tier}`;
    let line = lines.get(key);
    if (!line) {
      line = {
        window,
        tenant: s.tenant,
        tier: s.tier,
        samples: 0,
        estimated: false,
        worlds: 0,
        gapMillis: 0,
        worldSet: new Set(),
        ...zeroQuantities(),
      };
      lines.set(key, line);
    }
    addQuantities(line, s);
    line.samples++;
    line.estimated ||= s.estimated;
    if (s.world) line.worldSet.add(s.world);
    const stream = `${key}\u0000${s.world ?? ''}\u0000${s.source}\u0000${s.agentId}`;
    (streams.get(stream) ?? streams.set(stream, []).get(stream)!).push(s);
  }
  for (const [stream, list] of streams) {
    const line = lines.get(stream.split('\u0000').slice(0, 3).join('\u0000'))!;
    list.sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
    let reached = Date.parse(list[0]!.end);
    for (const s of list.slice(1)) {
      const gap = Date.parse(s.start) - reached;
      if (gap > GAP_TOLERANCE_MS) line.gapMillis += gap;
      reached = Math.max(reached, Date.parse(s.end));
    }
  }
  const out = [...lines.values()].map(({ worldSet, ...line }) => ({ ...line, worlds: worldSet.size }));
  out.sort((a, b) => cmp(a.window, b.window) || cmp(a.tenant, b.tenant) || cmp(a.tier, b.tier));
  return { lines: out, duplicates: d.duplicates, conflicts: d.conflicts };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Sum of every quantity over lines or samples. */
export function totalQuantities(items: readonly Quantities[]): Quantities {
  return items.reduce((acc, q) => addQuantities(acc, q), zeroQuantities());
}
