import { randomBytes } from 'node:crypto';
import Papa from 'papaparse';
import pino from 'pino';
import { ExportDocumentSchema, paths, type ExportLine, type UsageReport, type UsageSample } from '@fleetforge/shared';
import {
  FakeClock,
  MemoryBlobStore,
  MemoryBus,
  MemoryStateStore,
  RecordingMetricsSink,
  SeqIds,
} from '@fleetforge/shared/testing';
import { nodeDigests } from '../adapters/node-digests';
import { testDeps } from '../deps';
import {
  auditBilling,
  billingExport,
  billingExportDue,
  ingestUsage,
  updateCostGauges,
  type BillingDeps,
} from './billing-export';

const log = pino({ level: 'silent' });
const zero = { cpuMillis: 0, memoryMiBSeconds: 0, vclusterMillis: 0, cellMillis: 0 };

function sample(id: string, tenant: string, start: string, end: string, over: Partial<UsageSample> = {}): UsageSample {
  return {
    id,
    tenant,
    tier: 'standard',
    world: 'w1',
    source: 'process',
    estimated: false,
    agentId: 'agent-1',
    start,
    end,
    ...zero,
    cpuMillis: 1_800_000,
    memoryMiBSeconds: 1024 * 1800,
    cellMillis: 1_800_000,
    ...over,
  };
}

function report(samples: UsageSample[]): UsageReport {
  return { kind: 'usage', agentId: 'agent-1', at: '2026-11-22T00:00:05.000Z', samples, correlationId: 'corr-u' };
}

function setup(now = '2026-11-22T00:05:00.000Z') {
  const store = new MemoryStateStore();
  const metrics = new RecordingMetricsSink();
  const clock = new FakeClock(now);
  const deps = testDeps({ store, bus: new MemoryBus(), metrics, clock, log, ids: new SeqIds() });
  const blobs = new MemoryBlobStore();
  const billing: BillingDeps = { blobs, key: new Uint8Array(randomBytes(32)), digests: nodeDigests };
  return { store, metrics, clock, deps, blobs, billing };
}

const DAY1 = [
  sample('a1', 'acme', '2026-11-21T10:00:00.000Z', '2026-11-21T10:30:00.000Z'),
  sample('a2', 'acme', '2026-11-21T23:59:59.999Z', '2026-11-22T00:00:00.000Z', { cpuMillis: 1 }),
  sample('b1', 'beta', '2026-11-21T12:00:00.000Z', '2026-11-21T12:30:00.000Z', {
    tier: 'dedicated',
    source: 'kubernetes',
    estimated: true,
  }),
  sample('d1', 'devco', '2026-11-21T08:00:00.000Z', '2026-11-21T08:30:00.000Z', { tier: 'dev', world: null }),
];
// Exactly at midnight: the next day's window.
const DAY2 = [sample('a3', 'acme', '2026-11-22T00:00:00.000Z', '2026-11-22T00:01:00.000Z')];

describe('billingExport', () => {
  it('exports the closed UTC day: JSON and CSV agree, manifest verifies, usage docs per tenant', async () => {
    const { deps, blobs, billing, store } = setup();
    await ingestUsage(deps, report([...DAY1, ...DAY2]), log);
    await ingestUsage(deps, report(DAY1), log); // redelivery: duplicates

    const r = await billingExport(deps, billing, { now: false }, 'system:billingExport', 'corr-1');
    expect(r.status).toBe('exported');
    expect(r.export).toMatchObject({ id: 'day-2026-11-21', seq: 1, state: 'complete', tenants: 3, previous: null });

    const keys = (await blobs.list('billing/')).map((b) => b.key);
    const jsonKey = keys.find((k) => k.endsWith('.json') && !k.includes('manifests'))!;
    const csvKey = keys.find((k) => k.endsWith('.csv'))!;
    const doc = ExportDocumentSchema.parse(JSON.parse(new TextDecoder().decode(await blobs.get(jsonKey))));
    expect(doc.lines.map((l) => [l.tenant, l.tier, l.samples, l.cpuMillis, l.estimated])).toEqual([
      ['acme', 'standard', 2, 1_800_001, false],
      ['beta', 'dedicated', 1, 1_800_000, true],
      ['devco', 'dev', 1, 1_800_000, false],
    ]);
    expect(doc.lines.find((l) => l.tenant === 'devco')!.cost).toBe(0);

    // An independent CSV parser reads back exactly the JSON lines.
    const parsed = Papa.parse<Record<string, string>>(new TextDecoder().decode(await blobs.get(csvKey)), {
      header: true,
      skipEmptyLines: true,
    });
    expect(parsed.errors).toEqual([]);
    const fromCsv = parsed.data.map((row) =>
      Object.fromEntries(
        Object.entries(row).map(([k, v]) => [
          k,
          v === 'true' ? true : v === 'false' ? false : /^-?\d+(\.\d+)?(e[-+]?\d+)?$/.test(v) ? Number(v) : v,
        ]),
      ),
    ) as unknown as ExportLine[];
    expect(fromCsv).toEqual(doc.lines);

    const usage = await store.get(paths.tenantUsage('acme', 'day-2026-11-21'));
    expect(usage).toMatchObject({ window: '2026-11-21', currency: 'USD' });
    expect((await billingExport(deps, billing, { now: false }, 'system:billingExport', 'corr-2')).status).toBe(
      'exists',
    );
    const audit = await auditBilling(deps, billing, 'token:fin', 'corr-a');
    expect(audit.problems).toEqual([]);
    expect(audit.exports.map((e) => [e.seq, e.id, e.operator])).toEqual([
      [1, 'day-2026-11-21', 'system:billingExport'],
    ]);
  });

  it('chains exports, refuses an open window without --now, and a late sample never changes an export', async () => {
    const { deps, blobs, billing, clock, metrics } = setup();
    await ingestUsage(deps, report(DAY1), log);
    await billingExport(deps, billing, { now: false }, 'system:billingExport', 'c');
    await expect(billingExport(deps, billing, { window: '2026-11-22', now: false }, 'op', 'c')).rejects.toMatchObject({
      code: 'FAILED_PRECONDITION',
    });
    await ingestUsage(
      deps,
      report([sample('late', 'acme', '2026-11-21T11:00:00.000Z', '2026-11-21T11:10:00.000Z')]),
      log,
    );
    expect(metrics.value('fleetforge_usage_samples_total', { outcome: 'late' })).toBe(1);
    const before = (await blobs.list('billing/day/')).map((b) => b.key);
    expect((await billingExport(deps, billing, { window: '2026-11-21', now: false }, 'op', 'c')).status).toBe('exists');
    expect((await blobs.list('billing/day/')).map((b) => b.key)).toEqual(before);

    await ingestUsage(deps, report(DAY2), log);
    clock.advance(60_000);
    const p = await billingExport(deps, billing, { now: true }, 'token:ops', 'c');
    expect(p.export).toMatchObject({ id: 'day-2026-11-22-upto-000600', seq: 2, closed: false, operator: 'token:ops' });
    expect(p.export.previous).toMatchObject({ id: 'day-2026-11-21', seq: 1 });
    expect((await auditBilling(deps, billing, 'token:fin', 'c')).ok).toBe(true);
  });

  it('audit names a changed byte and writes an ExportTampered warning event', async () => {
    const { deps, blobs, billing, store } = setup();
    await ingestUsage(deps, report(DAY1), log);
    await billingExport(deps, billing, { now: false }, 'system:billingExport', 'c');
    const csv = (await blobs.list('billing/day/')).find((b) => b.key.endsWith('.csv'))!.key;
    const bytes = (await blobs.get(csv))!;
    bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 1;
    await blobs.put(csv, bytes, 'text/csv');
    const r = await auditBilling(deps, billing, 'token:fin', 'corr-audit');
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([expect.objectContaining({ cause: 'FileChanged', file: csv })]);
    const events = (await store.list('events')).map((e) => e.data);
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'ExportTampered', severity: 'Warning', reason: 'FileChanged' }),
    );

    // Signed with another deployment's key: named as such.
    const other = { ...billing, key: new Uint8Array(randomBytes(32)) };
    expect((await auditBilling(deps, other, 'token:fin', 'c')).problems.map((p) => p.cause)).toContain(
      'SignedWithAnotherKey',
    );
  });
});

describe('billingExportDue', () => {
  it('catches up closed windows a missed run left, oldest first, and re-runs cost one read each', async () => {
    const { deps, billing, clock, store } = setup('2026-11-23T00:05:00.000Z');
    await ingestUsage(deps, report([...DAY1, ...DAY2]), log);
    const first = await billingExportDue(deps, billing, 'system:billingExport', 'c');
    expect(first.map((r) => [r.status, r.export.id, r.export.seq])).toEqual([
      ['exported', 'day-2026-11-20', 1],
      ['exported', 'day-2026-11-21', 2],
      ['exported', 'day-2026-11-22', 3],
    ]);
    clock.advance(3_600_000);
    const again = await billingExportDue(deps, billing, 'system:billingExport', 'c');
    expect(again.map((r) => [r.status, r.export.id])).toEqual([['exists', 'day-2026-11-22']]);
    expect(await store.get(paths.billingHead())).toMatchObject({ seq: 3, id: 'day-2026-11-22' });
    expect((await auditBilling(deps, billing, 'token:fin', 'c')).ok).toBe(true);
  });
});

describe('updateCostGauges', () => {
  it('sets rolling and billing-window gauges and folds tenants past maxTenantLabels into other', async () => {
    const { deps, metrics, store } = setup('2026-11-22T00:40:00.000Z');
    await store.set(paths.config('billing'), { maxTenantLabels: 2 });
    await ingestUsage(
      deps,
      report([
        sample('x1', 'acme', '2026-11-22T00:10:00.000Z', '2026-11-22T00:20:00.000Z'),
        sample('x2', 'beta', '2026-11-22T00:10:00.000Z', '2026-11-22T00:20:00.000Z', { cpuMillis: 10 }),
        sample('x3', 'gamma', '2026-11-22T00:10:00.000Z', '2026-11-22T00:20:00.000Z', { cpuMillis: 5 }),
        // Yesterday 23:50: rolling only.
        sample('y1', 'acme', '2026-11-21T23:50:00.000Z', '2026-11-21T23:55:00.000Z'),
      ]),
      log,
    );
    const r = await updateCostGauges(deps, 'c');
    expect(r).toEqual({ tenants: 3, folded: 2 });
    const acmeWindow = metrics.value('fleetforge_tenant_cost_billing_window', { tenant: 'acme' })!;
    const acmeRolling = metrics.value('fleetforge_tenant_cost_estimate_rolling', { tenant: 'acme' })!;
    expect(acmeRolling).toBeGreaterThan(acmeWindow);
    expect(metrics.value('fleetforge_tenant_cost_billing_window', { tenant: 'other' })).toBeGreaterThan(0);
    expect(metrics.value('fleetforge_tenant_cost_billing_window', { tenant: 'beta' })).toBeUndefined();
    const events = (await store.list('events')).map((e) => e.data);
    expect(events).toContainEqual(expect.objectContaining({ type: 'TenantLabelsFolded', severity: 'Warning' }));
  });
});
