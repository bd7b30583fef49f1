import { type Command, Option } from 'commander';
import { color } from './colors';
import { stringify } from 'csv-stringify/sync';
import { z } from 'zod';
import {
  AuditReportSchema,
  ExportDocSchema,
  BillingConfigSchema,
  intervalCron,
  type BillingConfig,
  EXPORT_COLUMNS,
  ExportLineSchema,
  type AuditReport,
  type ExportLine,
} from '@fleetforge/shared';
import { CliError, type ApiClient } from './client';
import { emit, parseAssignments, type OutputFormat } from './format';
import { kubectlTable, render } from './table';

const ReportSchema = z.object({
  export: z.object({
    id: z.string(),
    seq: z.number(),
    window: z.string(),
    period: z.string(),
    closed: z.boolean(),
    generatedAt: z.string().nullable(),
    currency: z.string(),
  }),
  lines: z.array(ExportLineSchema),
});
type Report = z.infer<typeof ReportSchema>;
const RunSchema = z.object({ status: z.enum(['exported', 'exists']), export: ExportDocSchema });

/** `-o csv` for billing: the same columns as the export files. */
export function linesCsv(lines: readonly ExportLine[]): string {
  return stringify(lines as unknown as Record<string, unknown>[], {
    header: true,
    columns: EXPORT_COLUMNS as string[],
    cast: { boolean: (v) => (v ? 'true' : 'false') },
  });
}

const hours = (ms: number) => (ms / 3_600_000).toFixed(3);

export function reportTable(r: Report): string {
  const t = kubectlTable({
    head: [
      'TIER',
      'TENANT',
      'CPU-H',
      'MEM GIB-H',
      'VCLUSTER-H',
      'CELL-H',
      'SAMPLES',
      'GAPS',
      `COST ${r.export.currency}`,
    ],
  });
  for (const l of r.lines) {
    t.push([
      l.tier,
      l.tenant + (l.estimated ? color.dim(' (est.)') : ''),
      hours(l.cpuMillis),
      (l.memoryMiBSeconds / 1024 / 3600).toFixed(3),
      hours(l.vclusterMillis),
      hours(l.cellMillis),
      String(l.samples),
      l.gapMillis > 0 ? color.yellow(`${Math.round(l.gapMillis / 1000)} s`) : '-',
      l.cost.toFixed(6),
    ]);
  }
  const e = r.export;
  const head = `export ${e.id} (seq ${e.seq}, ${e.period} window ${e.window}${e.closed ? '' : ', provisional'}) generated ${e.generatedAt ?? '-'}`;
  return `${head}\n${r.lines.length === 0 ? 'no usage in this window' : render(t)}`;
}

export function exportsTable(items: z.infer<typeof ExportDocSchema>[]): string {
  const t = kubectlTable({
    head: ['SEQ', 'EXPORT', 'GENERATED', 'OPERATOR', 'FILES (SHA-256)', 'MANIFEST', 'PREVIOUS'],
  });
  for (const e of items) {
    t.push([
      String(e.seq),
      e.id + (e.closed ? '' : color.dim(' (provisional)')),
      e.generatedAt ?? '-',
      e.operator,
      e.files.map((f) => `${f.key.split('/').at(-1)} ${f.sha256.slice(0, 16)}… ${f.size} B`).join('\n'),
      (e.manifestHash ?? '-').slice(0, 16),
      e.previous ? `${e.previous.seq} ${e.previous.hash.slice(0, 16)}` : '-',
    ]);
  }
  return items.length === 0 ? 'no billing exports yet' : render(t);
}

export function auditText(r: AuditReport): string {
  const t = kubectlTable({
    head: ['SEQ', 'EXPORT', 'WINDOW', 'GENERATED', 'OPERATOR', 'AUDIT'],
  });
  for (const e of r.exports) {
    t.push([
      String(e.seq ?? '-'),
      e.id ?? e.key,
      e.window ?? '-',
      e.generatedAt ?? '-',
      e.operator ?? '-',
      e.ok ? color.green('ok') : color.red('TAMPERED'),
    ]);
  }
  const problems = r.problems.map((p) => `  ${color.red(p.cause)}: ${p.message}`);
  return [
    r.exports.length === 0 ? 'no billing exports yet' : render(t),
    r.ok
      ? color.green(`audit ok: ${r.exports.length} exports verify`)
      : color.red(`audit FAILED: ${r.problems.length} problems`),
    ...problems,
  ].join('\n');
}

/** `ffctl billing …`: reports, export lineage, the finance audit, and exporting now. */
export function registerBillingCommands(
  program: Command,
  client: () => ApiClient,
  format: () => OutputFormat,
  io: { out: (text: string) => void },
): void {
  const billing = program.command('billing').description('Usage reports, billing exports and their audit');

  billing
    .command('report')
    .description('Usage and cost per tier and tenant of the latest closed window (or --window)')
    .option('--tenant <name>', 'only this tenant')
    .option('--window <id>', 'UTC day (2026-11-21) or hour (2026-11-21T13)')
    .action(async (o: { tenant?: string; window?: string }) => {
      const q = new URLSearchParams();
      if (o.tenant) q.set('tenant', o.tenant);
      if (o.window) q.set('window', o.window);
      const r = await client().request(
        'GET',
        `/v1/billing/report${q.size > 0 ? `?${q.toString()}` : ''}`,
        ReportSchema,
      );
      io.out(format() === 'csv' ? linesCsv(r.lines) : emit(format(), r, () => reportTable(r)));
    });

  billing
    .command('exports')
    .description('Export lineage: files, SHA-256, generation time, operator, chain')
    .action(async () => {
      const r = await client().request('GET', '/v1/billing/exports', z.object({ items: z.array(ExportDocSchema) }));
      if (format() === 'csv') {
        const rows = r.items.flatMap((e) =>
          e.files.map((f) => ({
            seq: e.seq,
            export: e.id,
            window: e.window,
            closed: e.closed,
            generatedAt: e.generatedAt,
            operator: e.operator,
            file: f.key,
            sha256: f.sha256,
            size: f.size,
            manifestHash: e.manifestHash,
          })),
        );
        io.out(stringify(rows, { header: true, cast: { boolean: (v) => (v ? 'true' : 'false') } }));
      } else io.out(emit(format(), r.items, () => exportsTable(r.items)));
    });

  billing
    .command('audit')
    .description('Verify every export (checksums, signatures, chain); exits 1 naming the cause of any tampering')
    .action(async () => {
      const r = await client().request('POST', '/v1/billing:audit', AuditReportSchema, {});
      io.out(emit(format(), r, () => auditText(r)));
      if (!r.ok) throw new CliError(`billing audit failed: ${[...new Set(r.problems.map((p) => p.cause))].join(', ')}`);
    });

  billing
    .command('export')
    .description('Operator: close and export a window now (--now: the open window so far, provisional)')
    .addOption(new Option('--now', 'export the current window up to now').conflicts('window'))
    .option('--window <id>', 'a closed window to export')
    .action(async (o: { now?: boolean; window?: string }) => {
      const r = await client().request('POST', '/v1/billing/exports', RunSchema, {
        now: o.now === true,
        ...(o.window ? { window: o.window } : {}),
      });
      io.out(
        emit(
          format(),
          r,
          () =>
            `${r.status === 'exported' ? 'exported' : 'already exported'} ${r.export.id} (seq ${r.export.seq}): ${r.export.tenants} tenants, ${r.export.cost} ${r.export.currency}\n` +
            r.export.files.map((f) => `  ${f.key}  sha256 ${f.sha256}`).join('\n'),
        ),
      );
    });

  const config = billing
    .command('config')
    .description('Live billing configuration (billing role or admin; no restart)');
  config
    .command('get')
    .description('Prices per tier, billing period, export interval and tenant label cap, with what is overridden')
    .action(async () => {
      const r = await client().request('GET', '/v1/config/billing', ConfigViewSchema);
      io.out(emit(format(), r, () => configText(r.config, r.overrides)));
    });
  config
    .command('set <assignments...>')
    .description('Set keys: ffctl billing config set intervalMinutes=15 prices.tiers.standard.cpuHour=0.05')
    .action(async (assignments: string[]) => {
      const set = parseAssignments(
        assignments,
        /^([A-Za-z][A-Za-z.]*)=(.+)$/,
        '<key>=<value>, e.g. intervalMinutes=15',
      );
      const r = await client().request('PATCH', '/v1/config/billing', ConfigPatchResultSchema, { set });
      io.out(emit(format(), r, () => (r.changedKeys.length ? `changed ${r.changedKeys.join(', ')}` : 'no change')));
    });
  config
    .command('unset <keys...>')
    .description('Back to the defaults: ffctl billing config unset intervalMinutes prices')
    .action(async (keys: string[]) => {
      const r = await client().request('PATCH', '/v1/config/billing', ConfigPatchResultSchema, { unset: keys });
      io.out(emit(format(), r, () => (r.changedKeys.length ? `unset ${r.changedKeys.join(', ')}` : 'no change')));
    });
}

const ConfigViewSchema = z.object({ config: BillingConfigSchema, overrides: z.record(z.string(), z.unknown()) });
const ConfigPatchResultSchema = z.object({ config: BillingConfigSchema, changedKeys: z.array(z.string()) });

/** `billing config get`: one line per key, overridden ones marked. */
export function configText(c: BillingConfig, overrides: Record<string, unknown>): string {
  const mark = (key: string) => (key in overrides ? '' : color.dim('  (default)'));
  const lines = [
    `period=${c.period}${mark('period')}`,
    `intervalMinutes=${c.intervalMinutes}${mark('intervalMinutes')}  (cron ${intervalCron(c.intervalMinutes)})`,
    `maxTenantLabels=${c.maxTenantLabels}${mark('maxTenantLabels')}`,
    `prices.currency=${c.prices.currency}${mark('prices')}`,
  ];
  const t = kubectlTable({ head: ['TIER', 'CPU-H', 'MEM GIB-H', 'VCLUSTER-H', 'CELL-H'] });
  for (const [tier, p] of Object.entries(c.prices.tiers)) {
    t.push([tier, p.cpuHour, p.memoryGiBHour, p.vclusterHour, p.cellHour].map(String));
  }
  return `${lines.join('\n')}\n${render(t)}`;
}
