/**
 * `npm run bench:cell`: how long a cell process takes from spawn to ready, and its
 * memory, for the ways the process driver can start it. Variants run interleaved
 * (A, B, C, A, B, C, …) so a busy machine weighs on each alike. Writes
 * bench-results/cell-start.json with p50/p95 and the machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from '@fleetforge/shared';
import { HttpCellClient } from '@fleetforge/agent';
import { machine, percentile } from './machine';

const ROOT = join(__dirname, '..', '..', '..');
const CELL_MAIN = join(ROOT, 'agent', 'dist', 'cell', 'main.js');

interface Variant {
  name: string;
  env: Record<string, string>;
  /** Started idle beforehand (FF_WARM=1, untimed); timed from `POST /v1/assign`, as the warm pool starts a cell. */
  warm?: boolean;
}

async function waitForFile(file: string, child: ChildProcess, t0: number): Promise<void> {
  while (!existsSync(file)) {
    if (child.exitCode !== null) throw new Error(`cell exited with ${child.exitCode}`);
    if (performance.now() - t0 > 30_000) throw new Error('cell did not start in 30 s');
    await sleep(2);
  }
}

async function startOnce(v: Variant, dir: string, i: number): Promise<{ readyMs: number; rssMiB: number }> {
  const endpointFile = join(dir, `c${i}.endpoint.json`);
  const warmFile = join(dir, `w${i}.endpoint.json`);
  rmSync(endpointFile, { force: true }); // the previous variant's cell wrote the same name
  rmSync(warmFile, { force: true });
  const cell = {
    FF_WORLD: 'bench',
    FF_CELL: `c${i}`,
    FF_INCARNATION: '1',
    FF_BOUNDARY: JSON.stringify({ x: 0, y: 0, width: 1000, height: 1000 }),
    FF_CAPACITY: JSON.stringify({ sessions: 500, cpuMillis: 1000, memoryMiB: 512 }),
    FF_ENDPOINT_FILE: endpointFile,
  };
  let t0 = performance.now();
  const child = spawn(process.execPath, [CELL_MAIN], {
    env: { ...process.env, ...(v.warm ? { FF_WARM: '1', FF_ENDPOINT_FILE: warmFile } : cell), ...v.env },
    stdio: 'ignore',
  });
  try {
    if (v.warm) {
      await waitForFile(warmFile, child, t0);
      await sleep(200); // idle, as a pool cell waits
      const { endpoint } = JSON.parse(readFileSync(warmFile, 'utf8')) as { endpoint: string };
      t0 = performance.now();
      await new HttpCellClient().assign(endpoint, cell);
    }
    await waitForFile(endpointFile, child, t0);
    const { endpoint } = JSON.parse(readFileSync(endpointFile, 'utf8')) as { endpoint: string };
    while ((await fetch(`${endpoint}/readyz`).catch(() => undefined))?.status !== 200) await sleep(2);
    const readyMs = performance.now() - t0;
    // Memory once it has settled and served a few requests (what a cell holds while idle).
    await sleep(500);
    for (let k = 0; k < 5; k++) await (await fetch(`${endpoint}/v1/sample`)).arrayBuffer();
    const sample = (await (await fetch(`${endpoint}/v1/sample`)).json()) as { memoryMiB: number };
    return { readyMs, rssMiB: sample.memoryMiB };
  } finally {
    child.kill('SIGKILL');
    await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
  }
}

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 10) / 10;
  return { runs: s.length, p50: r(percentile(s, 50)), p95: r(percentile(s, 95)), max: r(s.at(-1)!) };
}

async function main(): Promise<void> {
  const runs = Number(process.env.FF_BENCH_RUNS ?? 20);
  const dir = mkdtempSync(join(tmpdir(), 'ff-bench-cell-'));
  const cache = join(dir, 'compile-cache');
  const variants: Variant[] = [
    { name: 'plain', env: {} },
    // Node 22's on-disk compile cache: the cell's module graph is compiled once per machine, not per cell.
    { name: 'compile-cache', env: { NODE_COMPILE_CACHE: cache } },
    // Plus a small young generation: a cell allocates little, so 16 MiB semi-spaces are mostly empty RSS.
    {
      name: 'compile-cache+small-heap',
      env: { NODE_COMPILE_CACHE: cache, NODE_OPTIONS: '--max-semi-space-size=1' },
    },
    // The warm pool's path: an idle cell process told which cell to be.
    { name: 'warm-assign', env: {}, warm: true },
  ];
  const results = new Map<string, { readyMs: number[]; rssMiB: number[] }>(
    variants.map((v) => [v.name, { readyMs: [], rssMiB: [] }]),
  );
  // Warm the file cache and the compile cache once: the first cell on a machine pays for both.
  process.stderr.write('warming up\n');
  await startOnce(variants[1]!, dir, -1);
  for (let i = 0; i < runs; i++) {
    for (const v of variants) {
      const r = await startOnce(v, dir, i);
      process.stderr.write(`${v.name} #${i + 1}: ready ${r.readyMs.toFixed(0)} ms, rss ${r.rssMiB} MiB\n`);
      results.get(v.name)!.readyMs.push(r.readyMs);
      results.get(v.name)!.rssMiB.push(r.rssMiB);
    }
  }
  rmSync(dir, { recursive: true, force: true });
  const out = {
    bench: 'cell-start',
    at: new Date().toISOString(),
    machine: machine(),
    what: 'spawn (warm-assign: POST /v1/assign to an idle warm cell) → /readyz 200 (ms) and RSS after start (MiB) of one cell process, no durable sessions',
    variants: Object.fromEntries(
      [...results].map(([name, r]) => [name, { readyMs: stats(r.readyMs), rssMiB: stats(r.rssMiB) }]),
    ),
  };
  mkdirSync(join(ROOT, 'bench-results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench-results', 'cell-start.json'), `${JSON.stringify(out, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
