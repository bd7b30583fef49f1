import { stringify } from 'csv-stringify/sync';
import { z } from 'zod';
import {
  COLLECTIONS,
  EXPORT_COLUMNS,
  ExportManifestSchema,
  FleetError,
  PERIOD_MS,
  UsageSampleSchema,
  WindowIdSchema,
  auditExports,
  exportLines,
  guardTenantLabels,
  manifestHash,
  manifestKey,
  parseOrThrow,
  parseWindowId,
  paths,
  rollup,
  signManifest,
  tenantCosts,
  totalQuantities,
  windowOf,
  type AuditReport,
  type BillingWindow,
  type BlobStore,
  type Digests,
  ExportDocSchema,
  type ExportDoc,
  type ExportDocument,
  type ExportLine,
  type ExportManifest,
  type Period,
  type UsageReport,
  type UsageSample,
  type WriteOp,
} from '@fleetforge/shared';
import type { Deps } from '../deps';
import type { Outcome } from '../pubsub-handler';
import { readBillingConfig, readBillingHead } from '../store/exports';
import { buildEvent } from '../store/records';

/** What billing needs beyond the common deps: where exports go and how they are signed. */
export interface BillingDeps {
  blobs: BlobStore;
  key: Uint8Array;
  digests: Digests;
}

/** The billingExport request (scheduler body, or the API for `ffctl billing export`). */
export const BillingExportRequestSchema = z.strictObject({
  /** A closed window to export (`2026-11-21`, `2026-11-21T13`); default: the last closed window of the period. */
  window: WindowIdSchema.optional(),
  /** Export the current, still open window up to now (a provisional export, `closed: false`). */
  now: z.boolean().default(false),
});
export type BillingExportRequest = z.infer<typeof BillingExportRequestSchema>;

/** A claim older than this was abandoned by a crashed run; the next run takes the position over. */
const STALE_CLAIM_MS = 10 * 60_000;

export interface BillingExportResult {
  status: 'exported' | 'exists';
  export: ExportDoc;
  samples: number;
  duplicates: number;
  reads: number;
  writes: number;
  bytes: number;
}

/** Samples of one window (by their `day`/`hour` field), validated. */
async function loadSamples(deps: Deps, window: BillingWindow): Promise<UsageSample[]> {
  const docs = await deps.store.list(COLLECTIONS.usageSamples, {
    where: [{ field: window.period, op: '==', value: window.id }],
  });
  return docs.map((d) => {
    const { day: _d, hour: _h, receivedAt: _r, late: _l, ...sample } = d.data;
    return parseOrThrow(UsageSampleSchema, sample, `doc ${d.path}`);
  });
}

/** JSON and CSV of the same lines; the CSV header is the fixed column list. */
export function renderExport(doc: ExportDocument): { json: string; csv: string } {
  const json = `${JSON.stringify(doc, null, 2)}\n`;
  const csv = stringify(doc.lines, {
    header: true,
    columns: EXPORT_COLUMNS as string[],
    cast: { boolean: (v) => (v ? 'true' : 'false') },
  });
  return { json, csv };
}

async function createOrSame(blobs: BlobStore, key: string, body: string, contentType: string): Promise<void> {
  try {
    await blobs.create(key, body, contentType);
  } catch (err) {
    if (!(err instanceof FleetError) || err.code !== 'ALREADY_EXISTS') throw err;
    // Content-addressed keys: an earlier attempt of this export wrote the same bytes.
    const existing = new TextDecoder().decode(await blobs.get(key));
    if (existing !== body) throw new FleetError('INTERNAL', `export file ${key} exists with other content`);
  }
}

/**
 * Closes one window into an export: rollup (pure) → JSON + CSV files
 * (create-only, content-addressed) → a signed manifest chained to the previous
 * one → per-tenant usage docs and the chain head in Firestore. Idempotent: a
 * window already exported answers `exists`; a crashed run is resumed.
 */
export async function billingExport(
  deps: Deps,
  billing: BillingDeps,
  request: BillingExportRequest,
  operator: string,
  correlationId: string,
): Promise<BillingExportResult> {
  const started = Date.now();
  const now = deps.clock.now();
  const config = await readBillingConfig(deps.store);
  const period: Period = request.window ? parseWindowId(request.window).period : config.period;
  let window: BillingWindow;
  let closed = true;
  let id: string;
  if (request.now) {
    const current = windowOf(now.getTime(), period);
    window = { ...current, end: now.toISOString() };
    closed = false;
    id = `${period}-${current.id}-upto-${now.toISOString().slice(11, 19).replace(/:/g, '')}`;
  } else {
    window = request.window ? parseWindowId(request.window) : windowOf(now.getTime() - PERIOD_MS[period], period);
    if (Date.parse(window.end) > now.getTime()) {
      throw new FleetError(
        'FAILED_PRECONDITION',
        `window ${window.id} is still open; use --now for a provisional export`,
      );
    }
    id = `${period}-${window.id}`;
  }
  let reads = 1;
  let writes = 0;
  const existing = await deps.store.get(paths.export(id));
  reads++;
  if (existing && existing.state === 'complete') {
    deps.metrics.inc('fleetforge_billing_exports_total', { outcome: 'exists' });
    return {
      status: 'exists',
      export: parseOrThrow(ExportDocSchema, existing, `doc ${paths.export(id)}`),
      samples: 0,
      duplicates: 0,
      reads,
      writes,
      bytes: 0,
    };
  }

  const samples = (await loadSamples(deps, window)).filter((s) => Date.parse(s.start) < Date.parse(window.end));
  reads += samples.length;
  const r = rollup(samples, period);
  const lines = exportLines(r.lines, config.prices);
  const doc: ExportDocument = { version: 1, window, closed, currency: config.prices.currency, lines };
  const { json, csv } = renderExport(doc);
  const d = billing.digests;
  const files = [
    { body: json, ext: 'json', contentType: 'application/json' },
    { body: csv, ext: 'csv', contentType: 'text/csv' },
  ].map((f) => {
    const sha256 = d.sha256Hex(f.body);
    return {
      key: `billing/${period}/${window.id}/${id}-${sha256.slice(0, 12)}.${f.ext}`,
      sha256,
      size: new TextEncoder().encode(f.body).byteLength,
      contentType: f.contentType,
      body: f.body,
    };
  });
  await Promise.all(files.map((f) => createOrSame(billing.blobs, f.key, f.body, f.contentType)));

  // Claim the next chain position (or resume our own claim).
  const claim = await deps.store.runTransaction(async (tx) => {
    const head = await readBillingHead(tx);
    const mine = await tx.get(paths.export(id));
    if (mine?.state === 'complete') return { done: parseOrThrow(ExportDocSchema, mine, 'export doc') };
    if (mine && head.pending === id) return { doc: parseOrThrow(ExportDocSchema, mine, 'export doc') };
    if (head.pending && head.pendingSince && now.getTime() - Date.parse(head.pendingSince) < STALE_CLAIM_MS) {
      throw new FleetError('ABORTED', `export ${head.pending} holds the chain; try again`, { retryable: true });
    }
    const claimed: ExportDoc = {
      id,
      state: 'writing',
      seq: head.seq + 1,
      window: window.id,
      period,
      closed,
      previous: head.id && head.hash ? { id: head.id, seq: head.seq, hash: head.hash } : null,
      operator,
      startedAt: now.toISOString(),
      manifestKey: null,
      manifestHash: null,
      generatedAt: null,
      files: [],
      tenants: 0,
      cost: 0,
      currency: config.prices.currency,
    };
    tx.set(paths.export(id), claimed);
    tx.set(paths.billingHead(), { ...head, pending: id, pendingSince: now.toISOString() });
    return { doc: claimed };
  });
  reads += 2;
  writes += 2;
  if (claim.done) {
    return { status: 'exists', export: claim.done, samples: 0, duplicates: 0, reads, writes, bytes: 0 };
  }
  const { seq, previous } = claim.doc;

  const totals = totalQuantities(lines);
  const cost = Math.round(lines.reduce((s, l) => s + l.cost, 0) * 1e6) / 1e6;
  const manifest = signManifest(
    {
      version: 1,
      id,
      seq,
      window,
      closed,
      generatedAt: now.toISOString(),
      operator,
      previous,
      files: files.map(({ body: _b, ...f }) => f),
      totals: {
        tenants: new Set(lines.map((l) => l.tenant)).size,
        samples: samples.length - r.duplicates,
        cost,
        currency: config.prices.currency,
        ...totals,
      },
    },
    billing.key,
    d,
  );
  const mKey = manifestKey(seq, id);
  let stored: ExportManifest = manifest;
  try {
    await billing.blobs.create(mKey, `${JSON.stringify(manifest, null, 2)}\n`, 'application/json');
  } catch (err) {
    if (!(err instanceof FleetError) || err.code !== 'ALREADY_EXISTS') throw err;
    // A crashed attempt of this export wrote its manifest before committing: adopt it.
    const prior = ExportManifestSchema.parse(JSON.parse(new TextDecoder().decode(await billing.blobs.get(mKey))));
    if (prior.id !== id) throw new FleetError('INTERNAL', `${mKey} belongs to ${prior.id}`);
    stored = prior;
  }
  const hash = manifestHash(stored, d);
  const bytes = files.reduce((s, f) => s + f.size, 0);

  // Per-tenant usage docs (blind, idempotent sets), then the commit of the chain head.
  const byTenant = new Map<string, ExportLine[]>();
  for (const l of lines) (byTenant.get(l.tenant) ?? byTenant.set(l.tenant, []).get(l.tenant)!).push(l);
  const ops: WriteOp[] = [...byTenant].map(([tenant, tl]) => ({
    op: 'set',
    path: paths.tenantUsage(tenant, id),
    data: {
      export: id,
      window: window.id,
      period,
      closed,
      generatedAt: stored.generatedAt,
      currency: config.prices.currency,
      cost: Math.round(tl.reduce((s, l) => s + l.cost, 0) * 1e6) / 1e6,
      lines: tl,
    },
  }));
  for (let i = 0; i < ops.length; i += 400) await deps.store.batch(ops.slice(i, i + 400));
  writes += ops.length;

  const complete: ExportDoc = {
    ...claim.doc,
    state: 'complete',
    manifestKey: mKey,
    manifestHash: hash,
    generatedAt: stored.generatedAt,
    files: stored.files,
    tenants: stored.totals.tenants,
    cost: stored.totals.cost,
  };
  await deps.store.runTransaction(async (tx) => {
    const head = await readBillingHead(tx);
    if (head.pending !== id) throw new FleetError('ABORTED', `lost the chain claim for ${id}`, { retryable: true });
    tx.set(paths.export(id), complete);
    tx.set(paths.billingHead(), { seq, id, hash, pending: null, pendingSince: null });
    const ev = buildEvent(
      {
        type: 'BillingExported',
        cells: [],
        reason: closed ? 'WindowClosed' : 'Provisional',
        message: `${id}: ${stored.totals.tenants} tenants, ${stored.totals.cost} ${config.prices.currency}`,
        data: { export: id, seq, window: window.id, manifest: mKey, hash, files: stored.files.map((f) => f.key) },
      },
      { world: null, correlationId, principal: operator, time: now, ids: deps.ids },
    );
    tx.set(paths.event(ev.id), ev);
  });
  reads++;
  writes += 3;
  deps.metrics.inc('fleetforge_billing_exports_total', { outcome: 'exported' });
  deps.metrics.observe('fleetforge_billing_export_duration_seconds', (Date.now() - started) / 1000);
  deps.log.info(
    { export: id, seq, tenants: complete.tenants, samples: samples.length, bytes },
    'billing export written',
  );
  return {
    status: 'exported',
    export: complete,
    samples: samples.length,
    duplicates: r.duplicates,
    reads,
    writes,
    bytes,
  };
}

/** How many closed windows a scheduled run looks back for one that was never exported. */
export const CATCH_UP_WINDOWS = 3;

/**
 * The scheduled run: exports, oldest first, every one of the last
 * `CATCH_UP_WINDOWS` closed windows not exported yet (a missed run is caught up;
 * one already exported costs a single read).
 */
export async function billingExportDue(
  deps: Deps,
  billing: BillingDeps,
  operator: string,
  correlationId: string,
): Promise<BillingExportResult[]> {
  const config = await readBillingConfig(deps.store);
  const ms = PERIOD_MS[config.period];
  const now = deps.clock.now().getTime();
  const results: BillingExportResult[] = [];
  for (let back = CATCH_UP_WINDOWS; back >= 1; back--) {
    const window = windowOf(now - back * ms, config.period);
    const done = await deps.store.get(paths.export(`${config.period}-${window.id}`));
    if (done?.state === 'complete' && back > 1) continue;
    results.push(await billingExport(deps, billing, { window: window.id, now: false }, operator, correlationId));
  }
  return results;
}

/**
 * Refreshes the two cost gauges (rolling 1 h estimate, daily billing window) per
 * tenant behind the cardinality guard; folding writes one TenantLabelsFolded
 * warning event per day (same id, so re-runs overwrite it).
 */
export async function updateCostGauges(
  deps: Deps,
  correlationId: string,
): Promise<{ tenants: number; folded: number }> {
  const config = await readBillingConfig(deps.store);
  const now = deps.clock.now().getTime();
  const today = windowOf(now, 'day');
  const hourAgo = windowOf(now - PERIOD_MS.hour, 'hour');
  const [day, prevHour] = await Promise.all([
    loadSamples(deps, today),
    // The rolling hour reaches into yesterday just after midnight.
    hourAgo.id.startsWith(today.id) ? Promise.resolve([]) : loadSamples(deps, hourAgo),
  ]);
  const { rolling, window } = tenantCosts(rollupDedupe([...prevHour, ...day]), now, config.prices);
  const g1 = guardTenantLabels(rolling, config.maxTenantLabels);
  const g2 = guardTenantLabels(window, config.maxTenantLabels);
  for (const [tenant, v] of g1.series) deps.metrics.set('fleetforge_tenant_cost_estimate_rolling', v, { tenant });
  for (const [tenant, v] of g2.series) deps.metrics.set('fleetforge_tenant_cost_billing_window', v, { tenant });
  const folded = [...new Set([...g1.folded, ...g2.folded])].sort();
  if (folded.length > 0) {
    const time = new Date(Date.parse(today.start));
    const ev = buildEvent(
      {
        type: 'TenantLabelsFolded',
        severity: 'Warning',
        cells: [],
        reason: 'MaxTenantLabels',
        message: `${folded.length} tenants over MAX_TENANT_LABELS=${config.maxTenantLabels} are reported as tenant="other"`,
        data: { maxTenantLabels: config.maxTenantLabels, folded: folded.slice(0, 100), count: folded.length },
      },
      { world: null, correlationId, principal: 'system:billingExport', time, ids: { next: () => 'labels-folded' } },
    );
    await deps.store.set(paths.event(ev.id), { ...ev, time: new Date(now).toISOString() });
    deps.log.warn({ folded: folded.length, max: config.maxTenantLabels }, 'tenant labels folded into other');
  }
  return { tenants: new Set([...rolling.keys(), ...window.keys()]).size, folded: folded.length };
}

function rollupDedupe(samples: UsageSample[]): UsageSample[] {
  const seen = new Map<string, UsageSample>();
  for (const s of samples) if (!seen.has(s.id)) seen.set(s.id, s);
  return [...seen.values()];
}

/**
 * Ingests usage samples from the agent, idempotent by sample id (a create that
 * finds the document is a duplicate). A sample whose window was already exported
 * is kept and marked late: it never changes that export (exports are immutable).
 */
export async function ingestUsage(deps: Deps, report: UsageReport, log: Deps['log']): Promise<Outcome> {
  const receivedAt = deps.clock.now().toISOString();
  const exported = new Map<string, boolean>();
  const isExported = async (dayId: string) => {
    if (!exported.has(dayId)) exported.set(dayId, (await deps.store.get(paths.export(`day-${dayId}`))) !== undefined);
    return exported.get(dayId)!;
  };
  const outcomes = await Promise.all(
    report.samples.map(async (s) => {
      const day = windowOf(Date.parse(s.start), 'day').id;
      const late = await isExported(day);
      try {
        await deps.store.create(paths.usageSample(s.id), {
          ...s,
          day,
          hour: windowOf(Date.parse(s.start), 'hour').id,
          receivedAt,
          late,
        });
        return late ? 'late' : 'new';
      } catch (err) {
        if (err instanceof FleetError && err.code === 'CONFLICT') return 'duplicate';
        throw err;
      }
    }),
  );
  for (const o of outcomes) deps.metrics.inc('fleetforge_usage_samples_total', { outcome: o });
  const late = outcomes.filter((o) => o === 'late').length;
  if (late > 0) log.warn({ late, agentId: report.agentId }, 'usage samples arrived after their window was exported');
  return 'ok';
}

/**
 * Reads every manifest and file and verifies them (pure audit); any problem
 * writes an ExportTampered warning event naming the causes.
 */
export async function auditBilling(
  deps: Deps,
  billing: BillingDeps,
  principal: string,
  correlationId: string,
): Promise<AuditReport> {
  const listed = await billing.blobs.list('billing/manifests/');
  const manifests = await Promise.all(
    listed.map(async (b) => ({ key: b.key, bytes: (await billing.blobs.get(b.key)) ?? new Uint8Array() })),
  );
  const fileKeys = new Set<string>();
  for (const m of manifests) {
    try {
      const parsed = JSON.parse(new TextDecoder().decode(m.bytes)) as { files?: Array<{ key?: unknown }> };
      for (const f of parsed.files ?? []) if (typeof f.key === 'string') fileKeys.add(f.key);
    } catch {
      // The audit names an unreadable manifest itself.
    }
  }
  const files = new Map<string, Uint8Array | undefined>();
  await Promise.all([...fileKeys].map(async (k) => files.set(k, await billing.blobs.get(k))));
  const head = await readBillingHead(deps.store);
  const now = deps.clock.now();
  const report = auditExports({
    manifests,
    file: (k) => files.get(k),
    head: head && head.seq > 0 && head.hash ? { seq: head.seq, hash: head.hash } : null,
    key: billing.key,
    digests: billing.digests,
    now: now.toISOString(),
  });
  if (!report.ok) {
    const causes = [...new Set(report.problems.map((p) => p.cause))];
    const ev = buildEvent(
      {
        type: 'ExportTampered',
        severity: 'Warning',
        cells: [],
        reason: causes.join(','),
        message: report.problems
          .slice(0, 5)
          .map((p) => p.message)
          .join('; '),
        data: { problems: report.problems.slice(0, 50), count: report.problems.length },
      },
      { world: null, correlationId, principal, time: now, ids: deps.ids },
    );
    await deps.store.set(paths.event(ev.id), ev);
    deps.log.warn({ causes, problems: report.problems.length }, 'billing export audit failed');
  }
  return report;
}
