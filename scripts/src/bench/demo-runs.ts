/**
 * `npm run bench:demo -- [--runs N]`: the demo's pass rate. Runs the scripted demo N
 * times (default 20, seeds 1..N) on one private stack, as a presenter re-running it
 * would, and records which phases failed and how long each run took.
 * JSON in bench-results/demo-runs.json.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { createLogger } from '@fleetforge/functions/adapters';
import { ApiClient } from '../ffctl/client';
import { resetDemoWorld, runDemo } from '../demo/demo';
import { startPrivateStack } from '../stack/stack';
import { machine, summarize } from './machine';

const ROOT = resolve(__dirname, '..', '..', '..');

function runsFlag(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 200) throw new InvalidArgumentError('--runs: an integer 1..200');
  return n;
}

async function main(): Promise<void> {
  const { runs } = new Command('bench:demo')
    .option('--runs <n>', 'demo runs', runsFlag, 20)
    .parse()
    .opts<{ runs: number }>();
  const stack = await startPrivateStack({
    stateDir: mkdtempSync(join(tmpdir(), 'ff-bench-demo-')),
    project: 'ff-bench-demo',
    root: ROOT,
    log: createLogger('bench', 'warn'),
    schedulerIntervalSeconds: 5,
  });
  const api = new ApiClient({ api: stack.file.api, token: stack.token, source: 'bench' });
  const results: Array<{ seed: number; ok: boolean; ms: number; failed: string[]; error?: string }> = [];
  try {
    for (let seed = 1; seed <= runs; seed++) {
      const t0 = Date.now();
      try {
        await resetDemoWorld(api);
        const report = await runDemo(api, {
          manifestPath: join(ROOT, 'examples', 'worldspec-demo.yaml'),
          seed,
          log: () => undefined,
        });
        const failed = report.phases.filter((p) => !p.ok).map((p) => `${p.phase}: ${p.note}`);
        results.push({ seed, ok: report.ok, ms: Date.now() - t0, failed });
      } catch (err) {
        results.push({ seed, ok: false, ms: Date.now() - t0, failed: [], error: (err as Error).message });
      }
      const last = results.at(-1)!;
      process.stderr.write(`run ${seed}/${runs}: ${last.ok ? 'ok' : 'FAILED'} ${Math.round(last.ms / 1000)} s\n`);
    }
  } finally {
    await stack.stop();
  }
  const passed = results.filter((r) => r.ok).length;
  const out = {
    benchmark: 'demo-runs',
    what: 'npm run demo (examples/worldspec-demo.yaml) run back to back on one private stack, seeds 1..N',
    at: new Date().toISOString(),
    machine: machine(),
    runs,
    passed,
    passRate: passed / runs,
    runMs: summarize(results.map((r) => r.ms)),
    failures: results.filter((r) => !r.ok),
  };
  mkdirSync(join(ROOT, 'bench-results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench-results', 'demo-runs.json'), `${JSON.stringify(out, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  if (passed < runs) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
