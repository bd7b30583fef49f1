import Papa from 'papaparse';
import { AuditReportSchema, type ExportLine } from '@fleetforge/shared';
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
