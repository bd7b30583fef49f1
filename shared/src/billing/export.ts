import { z } from 'zod';
import { TierSchema } from '../tenancy/tenancy';
import { costOf, type PriceTable } from './cost';
import { PeriodSchema, QuantitiesSchema, type RollupLine } from './usage';

/** One row of an export (the same fields in JSON and CSV, in this order). */
export const ExportLineSchema = z.strictObject({
  window: z.string(),
  tenant: z.string(),
  tier: TierSchema,
  samples: z.number().int().nonnegative(),
  estimated: z.boolean(),
  worlds: z.number().int().nonnegative(),
  gapMillis: z.number().int().nonnegative(),
  ...QuantitiesSchema.shape,
  cost: z.number().nonnegative(),
});
export type ExportLine = z.infer<typeof ExportLineSchema>;

/** CSV header, fixed: finance tooling reads columns by name and order. */
export const EXPORT_COLUMNS = Object.keys(ExportLineSchema.shape) as (keyof ExportLine)[];

export const ExportDocumentSchema = z.strictObject({
  version: z.literal(1),
  window: z.strictObject({ id: z.string(), period: PeriodSchema, start: z.string(), end: z.string() }),
  closed: z.boolean(),
  currency: z.string(),
  lines: z.array(ExportLineSchema),
});
export type ExportDocument = z.infer<typeof ExportDocumentSchema>;

/** Prices rollup lines: what the JSON and CSV files contain. */
export function exportLines(lines: readonly RollupLine[], prices: PriceTable): ExportLine[] {
  return lines.map((l) => ({
    window: l.window,
    tenant: l.tenant,
    tier: l.tier,
    samples: l.samples,
    estimated: l.estimated,
    worlds: l.worlds,
    gapMillis: l.gapMillis,
    cpuMillis: l.cpuMillis,
    memoryMiBSeconds: l.memoryMiBSeconds,
    vclusterMillis: l.vclusterMillis,
    cellMillis: l.cellMillis,
    cost: costOf(l, l.tier, prices),
  }));
}

/** One billing export's document (`exports/{id}`): its chain position, files and totals. */
export const ExportDocSchema = z.strictObject({
  id: z.string(),
  state: z.enum(['writing', 'complete']),
  seq: z.number().int().positive(),
  window: z.string(),
  period: z.enum(['hour', 'day']),
  closed: z.boolean(),
  previous: z.strictObject({ id: z.string(), seq: z.number().int().positive(), hash: z.string() }).nullable(),
  operator: z.string(),
  startedAt: z.string(),
  manifestKey: z.string().nullable().default(null),
  manifestHash: z.string().nullable().default(null),
  generatedAt: z.string().nullable().default(null),
  files: z
    .array(z.strictObject({ key: z.string(), sha256: z.string(), size: z.number(), contentType: z.string() }))
    .default([]),
  tenants: z.number().int().nonnegative().default(0),
  cost: z.number().nonnegative().default(0),
  currency: z.string().default('USD'),
});
export type ExportDoc = z.infer<typeof ExportDocSchema>;
