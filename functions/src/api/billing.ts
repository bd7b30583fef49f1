import { z } from 'zod';
import {
  BillingConfigPatchSchema,
  BillingConfigSchema,
  patchBillingConfig,
  ExportDocSchema,
  ExportDocumentSchema,
  ExportLineSchema,
  FleetError,
  WindowIdSchema,
  parseOrThrow,
  paths,
  type Principal,
} from '@fleetforge/shared';
import { BillingExportRequestSchema, auditBilling, billingExport, type BillingDeps } from '../usecases/billing-export';
import { listCompleteExports, readStoredBillingConfig } from '../store/exports';
import { auditedTransaction, writeEvents } from '../store/records';
import { productionBillingDeps } from '../runtime';
import { json, type ApiResponse, type AuthedContext, type RouteContext } from './http';

export const BillingReportQuerySchema = z.strictObject({
  tenant: z.string().min(1).max(40).optional(),
  window: WindowIdSchema.optional(),
});

export const BillingReportSchema = z.object({
  export: z.object({
    id: z.string(),
    seq: z.number(),
    window: z.string(),
    period: z.enum(['hour', 'day']),
    closed: z.boolean(),
    generatedAt: z.string().nullable(),
    currency: z.string(),
  }),
  lines: z.array(ExportLineSchema),
});
export type BillingReport = z.infer<typeof BillingReportSchema>;

export const ExportListSchema = z.object({ items: z.array(ExportDocSchema) });

function billingDeps(ctx: RouteContext): BillingDeps {
  return ctx.deps.billing ?? productionBillingDeps();
}

/** A tenant admin sees only its own tenant: asking for another, or for all, is a 403. */
function scopeTenant(principal: Principal, asked: string | undefined): string | undefined {
  if (principal.role !== 'tenant-admin') return asked;
  if (asked !== undefined && asked !== principal.tenant) {
    throw new FleetError(
      'PERMISSION_DENIED',
      `token ${principal.name} may only see tenant ${principal.tenant ?? '(none)'}`,
    );
  }
  if (!principal.tenant) throw new FleetError('PERMISSION_DENIED', `token ${principal.name} names no tenant`);
  return principal.tenant;
}

/** `GET /v1/billing/report`: the lines of one export (default: the newest closed one), per tier and tenant. */
export async function billingReport(ctx: AuthedContext): Promise<ApiResponse> {
  const { principal } = ctx;
  const q = parseOrThrow(BillingReportQuerySchema, ctx.req.query, 'query');
  const tenant = scopeTenant(principal, q.tenant);
  const all = await listCompleteExports(ctx.deps.store);
  const chosen = q.window
    ? all.filter((e) => e.window === q.window).at(-1)
    : (all.filter((e) => e.closed).at(-1) ?? all.at(-1));
  if (!chosen) {
    throw new FleetError('NOT_FOUND', q.window ? `no export of window ${q.window}` : 'no billing export yet');
  }
  const file = chosen.files.find((f) => f.contentType === 'application/json');
  const bytes = file ? await billingDeps(ctx).blobs.get(file.key) : undefined;
  if (!file || !bytes) throw new FleetError('NOT_FOUND', `export ${chosen.id} has no readable JSON file`);
  const doc = parseOrThrow(ExportDocumentSchema, JSON.parse(new TextDecoder().decode(bytes)), `file ${file.key}`);
  const report: BillingReport = {
    export: {
      id: chosen.id,
      seq: chosen.seq,
      window: chosen.window,
      period: chosen.period,
      closed: chosen.closed,
      generatedAt: chosen.generatedAt,
      currency: doc.currency,
    },
    lines: doc.lines.filter((l) => tenant === undefined || l.tenant === tenant),
  };
  return json(200, report);
}

/** `GET /v1/billing/exports`: lineage (seq, files and SHA-256, time, operator, chain hashes). */
export async function listExports(ctx: AuthedContext): Promise<ApiResponse> {
  return json(200, { items: await listCompleteExports(ctx.deps.store) });
}

/** `POST /v1/billing:audit`: verifies every export; 200 with `ok: false` and the causes when tampered. */
export async function auditExportsRoute(ctx: AuthedContext): Promise<ApiResponse> {
  const { principal } = ctx;
  return json(200, await auditBilling(ctx.deps, billingDeps(ctx), principal.id, ctx.correlationId));
}

/** `POST /v1/billing/exports`: close and export a window now (operator). */
export async function runExport(ctx: AuthedContext): Promise<ApiResponse> {
  const { principal } = ctx;
  const body = parseOrThrow(BillingExportRequestSchema, ctx.req.body ?? {}, 'request body');
  const r = await billingExport(ctx.deps, billingDeps(ctx), body, principal.id, ctx.correlationId);
  return json(r.status === 'exported' ? 201 : 200, r);
}

export const BillingConfigViewSchema = z.object({
  /** What billingExport uses now: the overrides over the defaults. */
  config: BillingConfigSchema,
  /** What is stored in `config/billing` (everything else is a default). */
  overrides: z.record(z.string(), z.unknown()),
  defaults: BillingConfigSchema,
});

export const BillingConfigPatchResultSchema = z.object({
  config: BillingConfigSchema,
  changedKeys: z.array(z.string()),
});

/** `GET /v1/config/billing`: the live billing configuration (prices, period, interval, label cap). */
export async function getBillingConfig(ctx: AuthedContext): Promise<ApiResponse> {
  const overrides = await readStoredBillingConfig(ctx.deps.store);
  return json(200, {
    config: parseOrThrow(BillingConfigSchema, overrides, 'doc config/billing'),
    overrides,
    defaults: BillingConfigSchema.parse({}),
  });
}

/**
 * `PATCH /v1/config/billing`: live, no restart. billingExport reads the doc on every
 * run; the Scheduler job's cron follows `intervalMinutes` (on GCP the function
 * updates it, locally the stack's runner reads it). Audited; a `ConfigReload`
 * event names the changed keys.
 */
export async function patchBillingConfigRoute(ctx: AuthedContext): Promise<ApiResponse> {
  const { principal, deps } = ctx;
  const body = parseOrThrow(BillingConfigPatchSchema, ctx.req.body ?? {}, 'request body');
  const result = await auditedTransaction(
    deps.store,
    () => deps.clock.now(),
    async (tx) => {
      const r = patchBillingConfig(await readStoredBillingConfig(tx), body);
      if (r.changedKeys.length > 0) {
        tx.set(paths.config('billing'), r.stored);
        writeEvents(
          tx,
          [
            {
              type: 'ConfigReload',
              cells: [],
              reason: 'ConfigChanged',
              message: `billing keys changed: ${r.changedKeys.map((k) => `billing.${k}`).join(', ')}`,
              data: { changedKeys: r.changedKeys.map((k) => `billing.${k}`) },
            },
          ],
          {
            world: null,
            correlationId: ctx.correlationId,
            principal: principal.id,
            time: deps.clock.now(),
            ids: deps.ids,
          },
        );
      }
      return {
        result: { config: r.config, changedKeys: r.changedKeys },
        audit:
          r.changedKeys.length > 0
            ? {
                action: 'config.update',
                target: paths.config('billing'),
                principal,
                correlationId: ctx.correlationId,
                details: { changed: r.changedKeys },
              }
            : undefined,
      };
    },
  );
  return json(200, result);
}
