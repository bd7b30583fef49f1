/**
 * `npm run demo`: the whole elasticity story on the running stack (or on a
 * private one it starts and stops). Prints a summary table, writes the report and
 * a metrics snapshot as JSON, exits 0 when every phase did what it claims.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Table from 'cli-table3';
import { Command } from 'commander';
import pc from 'picocolors';
import { createLogger } from '@fleetforge/functions/adapters';
import { ApiClient, CliError, resolveEndpoint } from '../ffctl/client';
import { readRunningStack, startPrivateStack, type RunningStack } from '../stack/stack';
import { resetDemoWorld, runDemo, type DemoReport } from './demo';

const ROOT = resolve(__dirname, '..', '..', '..');

/** Prometheus text → `{ name: [{ labels, value }] }`. */
export function metricsSnapshot(
  text: string,
): Record<string, Array<{ labels: Record<string, string>; value: number }>> {
  const out: Record<string, Array<{ labels: Record<string, string>; value: number }>> = {};
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})?\s+(\S+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]));
    (out[m[1]!] ??= []).push({ labels, value: Number(m[3]) });
  }
  return out;
}

export function summaryTable(report: DemoReport): string {
  const t = new Table({
    style: { head: [], border: [] },
    head: ['PHASE', 'RESULT', 'CELLS', 'SECONDS', 'SESSIONS', 'NOTE'].map((h) => pc.bold(h)),
  });
  for (const p of report.phases) {
    t.push([
      p.phase,
      p.ok ? pc.green('ok') : pc.red('FAILED'),
      `${p.cellsBefore} → ${p.cellsAfter}`,
      p.seconds.toFixed(1),
      `${p.sessionsBefore} → ${p.sessionsAfter}`,
      p.note,
    ]);
  }
  return t.toString();
}

async function main(): Promise<void> {
  const o = new Command('demo')
    .option('--seed <n>', 'seed of the load phases', '7')
    .option('-f, --file <path>', 'world manifest', join(ROOT, 'examples', 'worldspec-demo.yaml'))
    .parse()
    .opts<{ seed: string; file: string }>();
  let own: RunningStack | undefined;
  const running = readRunningStack(join(ROOT, '.fleetforge'));
  if (!running && !process.env.FLEETFORGE_API) {
    process.stdout.write(pc.dim('no running stack: starting a private one for the demo…\n'));
    own = await startPrivateStack({
      stateDir: mkdtempSync(join(tmpdir(), 'ff-demo-')),
      project: 'ff-demo',
      root: ROOT,
      log: createLogger('demo', 'warn'),
      schedulerIntervalSeconds: 5,
    });
  }
  const endpoint = own ? { api: own.file.api, token: own.token, source: 'private stack' } : resolveEndpoint({});
  const api = new ApiClient(endpoint);
  try {
    await resetDemoWorld(api);
    const report = await runDemo(api, {
      manifestPath: o.file,
      seed: Number(o.seed),
      log: (l) => process.stdout.write(`${l}\n`),
    });
    const metrics = metricsSnapshot(await (await fetch(`${endpoint.api}/metrics`)).text());
    const dir = join(ROOT, '.fleetforge', 'demo');
    mkdirSync(dir, { recursive: true });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    writeFileSync(join(dir, `report-${stamp}.json`), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(join(dir, `metrics-${stamp}.json`), `${JSON.stringify(metrics, null, 2)}\n`);
    process.stdout.write(`\n${summaryTable(report)}\n`);
    process.stdout.write(`report and metrics snapshot: ${dir}/{report,metrics}-${stamp}.json\n`);
    if (!report.ok) throw new CliError('demo: a phase failed (see the table)');
  } finally {
    await own?.stop();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${pc.red('demo failed:')} ${(err as Error).message}\n`);
    process.exit(1);
  });
}
