import Papa from 'papaparse';
import { AuditReportSchema, BillingConfigSchema, type ExportLine } from '@fleetforge/shared';
import { ffctlAgainst, startInProcessApi, type InProcessApi } from '../test/api-server';
import { auditText, linesCsv, reportTable } from './billing';

const line: ExportLine = {
  window: '2026-11-21',
  tenant: 'acme',
  tier: 'standard',
  samples: 3,
  estimated: true,
  worlds: 1,
  gapMillis: 60_000,
  cpuMillis: 3_600_000,
  memoryMiBSeconds: 1024 * 3600,
  vclusterMillis: 0,
  cellMillis: 7_200_000,
  cost: 0.065,
};

describe('ffctl billing output', () => {
  it('-o csv has the export columns and reads back equal to the lines', () => {
    const csv = linesCsv([line, { ...line, tenant: 'beta', estimated: false, cost: 0 }]);
    const rows = Papa.parse<Record<string, string>>(csv, { header: true, skipEmptyLines: true });
    expect(rows.meta.fields).toEqual(Object.keys(line));
    expect(rows.data.map((r) => [r.tenant, r.estimated, Number(r.cost), Number(r.cpuMillis)])).toEqual([
      ['acme', 'true', 0.065, 3_600_000],
      ['beta', 'false', 0, 3_600_000],
    ]);
  });

  it('the report table shows hours, estimates and gaps', () => {
    const text = reportTable({
      export: {
        id: 'day-2026-11-21',
        seq: 4,
        window: '2026-11-21',
        period: 'day',
        closed: true,
        generatedAt: 'g',
        currency: 'USD',
      },
      lines: [line],
    });
    expect(text).toContain('export day-2026-11-21 (seq 4, day window 2026-11-21)');
    expect(text).toMatch(/acme.*\(est\.\)/);
    expect(text).toContain('1.000');
    expect(text).toContain('60 s');
    expect(text).toContain('0.065000');
  });

  it('the audit text names every cause', () => {
    const text = auditText(
      AuditReportSchema.parse({
        ok: false,
        checkedAt: '2026-11-22T00:00:00.000Z',
        exports: [],
        problems: [{ cause: 'FileChanged', export: 'day-x', file: 'f', message: 'f: content changed' }],
      }),
    );
    expect(text).toContain('audit FAILED: 1 problems');
    expect(text).toContain('FileChanged');
  });
});

describe('ffctl billing config against the API', () => {
  let api: InProcessApi;
  beforeAll(async () => {
    api = await startInProcessApi();
    await api.token('fin', 'billing');
    await api.token('obs', 'observer');
  });
  afterAll(() => api.close());

  const ffctl = (args: string[], token = 'fin-token') => ffctlAgainst(api.url, args, token);

  it('sets, shows and unsets live keys; what billingExport reads is what was set', async () => {
    expect(
      await ffctl(['billing', 'config', 'set', 'intervalMinutes=15', 'prices.tiers.standard.cpuHour=0.05']),
    ).toEqual({ code: 0, out: 'changed intervalMinutes, prices.tiers.standard.cpuHour\n', err: '' });
    const shown = (await ffctl(['billing', 'config', 'get'])).out;
    expect(shown).toContain('intervalMinutes=15  (cron */15 * * * *)');
    expect(shown).toMatch(/period=day\s+\(default\)/);
    expect(shown).toMatch(/standard\s+0\.05\s/);
    expect(BillingConfigSchema.parse(await api.store.get('config/billing')).intervalMinutes).toBe(15);

    expect((await ffctl(['billing', 'config', 'set', 'intervalMinutes=15'])).out).toBe('no change\n');
    expect((await ffctl(['billing', 'config', 'unset', 'intervalMinutes'])).out).toBe('unset intervalMinutes\n');
    expect(BillingConfigSchema.parse(await api.store.get('config/billing')).intervalMinutes).toBe(60);
  });

  it.each([
    [['intervalMinutes=7'], 'billing.intervalMinutes'],
    [['colour=red'], 'billing.colour'],
    [['period'], '"period": expected <key>=<value>'],
  ])('refuses %j naming %s', async (assignments, named) => {
    const r = await ffctl(['billing', 'config', 'set', ...assignments]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(named);
  });

  it('is for the billing role and admins only', async () => {
    const r = await ffctl(['billing', 'config', 'get'], 'obs-token');
    expect(r.code).toBe(1);
    expect(r.err).toContain('PERMISSION_DENIED (HTTP 403)');
  });
});
