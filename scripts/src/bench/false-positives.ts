/**
 * `npm run bench:false-positives`: how often the split policy splits a cell whose load
 * only looks hot for a moment (PRD: false-positive split rate < 5 %), and how fast it
 * splits one that really is hot. Pure: the engine (`decideScaling`) is fed one noisy
 * load sample per cell per second, as cells report them; no stack, no clock.
 * JSON in bench-results/false-positives.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  CapacitySchema,
  CellDocSchema,
  ScalingSchema,
  decideScaling,
  type CellDoc,
  type LoadSample,
  type ScalingOverrides,
} from '@fleetforge/shared';
import { machine, summarize } from './machine';

const ROOT = resolve(__dirname, '..', '..', '..');
const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const SECONDS = 600;
const CELLS = 200;

/** Seeded PRNG (mulberry32): the same run every time. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

interface Noise {
  name: string;
  /** Standard deviation of each sample, as a fraction of the cell's mean load. */
  sd: number;
  /** Chance per second that a burst starts (a group arriving, a raid), and its size and length. */
  burstPerSecond: number;
  burstFactor: number;
  burstSeconds: number;
}

const NOISES: Noise[] = [
  { name: 'jitter-10%', sd: 0.1, burstPerSecond: 0, burstFactor: 1, burstSeconds: 0 },
  { name: 'jitter-20%', sd: 0.2, burstPerSecond: 0, burstFactor: 1, burstSeconds: 0 },
  { name: 'jitter-10%+bursts', sd: 0.1, burstPerSecond: 0.02, burstFactor: 1.6, burstSeconds: 3 },
];

/** Sustain windows compared: a long one, the default (5 s), the demo's (2 s) and none. */
const SUSTAINS = [10, 5, 2, 0];

function cellDoc(id: string, window: LoadSample[]): CellDoc {
  return CellDocSchema.parse({
    id,
    world: 'bench',
    boundary: { x: 0, y: 0, width: 1024, height: 1024 },
    parent: null,
    lineage: [],
    state: 'Ready',
    incarnation: 1,
    readyAt: new Date(T0 - 3_600_000).toISOString(),
    load: { sessions: window.at(-1)?.sessions ?? 0, cpuMillis: 0, memoryMiB: 0, window, hist: null },
    createdAt: new Date(T0 - 3_600_000).toISOString(),
    updatedAt: new Date(T0).toISOString(),
    correlationId: 'bench',
  });
}

interface Outcome {
  calmCells: number;
  falsePositives: number;
  /** Calm cells split, of the calm cells. */
  falsePositiveRate: number;
  /** Calm cells split, of all splits: the share of splits that were not needed. */
  falsePositiveShareOfSplits: number;
  hotCells: number;
  hotSplit: number;
  /** Simulated time from the start of the run (when the hot load began) to the split decision. */
  detectionMs: Record<string, number>;
}

/**
 * CELLS cells for SECONDS seconds: three in four calm (mean load 50–95 % of splitSessions,
 * which must never split), one in four hot (130 %, which must). Each is decided alone, so
 * rate limits and maxCells do not hide what the sustain filter does.
 */
function run(noise: Noise, sustain: number, seed: number): Outcome {
  const over: ScalingOverrides = { splitSustainSeconds: sustain };
  const scaling = ScalingSchema.parse({ ...over, maxCells: 256 });
  const capacity = CapacitySchema.parse({});
  const rand = rng(seed);
  const cells = Array.from({ length: CELLS }, (_, i) => {
    const hot = i % 4 === 3;
    const mean = scaling.splitSessions * (hot ? 1.3 : 0.5 + 0.45 * rand());
    return { id: `c${i}`, hot, mean, window: [] as LoadSample[], burstLeft: 0, splitAt: null as number | null };
  });
  for (let s = 0; s < SECONDS; s++) {
    const now = T0 + s * 1000;
    for (const c of cells) {
      if (c.splitAt !== null) continue;
      if (c.burstLeft > 0) c.burstLeft--;
      else if (rand() < noise.burstPerSecond) c.burstLeft = noise.burstSeconds;
      const level = c.mean * (c.burstLeft > 0 ? noise.burstFactor : 1) * (1 + noise.sd * gaussian(rand));
      const sessions = Math.max(0, Math.round(level));
      const cpuMillis = Math.round((capacity.cpuMillis * 0.6 * sessions) / scaling.splitSessions);
      c.window = [...c.window, { at: new Date(now).toISOString(), sessions, cpuMillis, memoryMiB: 100 }].slice(-60);
      const decisions = decideScaling({
        scaling,
        capacity,
        cells: [cellDoc(c.id, c.window)],
        operations: [],
        now: new Date(now),
      });
      if (decisions.some((d) => d.kind === 'split')) c.splitAt = s;
    }
  }
  const calm = cells.filter((c) => !c.hot);
  const hot = cells.filter((c) => c.hot);
  const fp = calm.filter((c) => c.splitAt !== null).length;
  const tp = hot.filter((c) => c.splitAt !== null).length;
  const ratio = (n: number, d: number) => (d === 0 ? 0 : Math.round((n / d) * 10_000) / 10_000);
  return {
    calmCells: calm.length,
    falsePositives: fp,
    falsePositiveRate: ratio(fp, calm.length),
    falsePositiveShareOfSplits: ratio(fp, fp + tp),
    hotCells: hot.length,
    hotSplit: tp,
    detectionMs: summarize(hot.flatMap((c) => (c.splitAt !== null ? [c.splitAt * 1000] : []))),
  };
}

function main(): void {
  const results: Record<string, Record<string, Outcome>> = {};
  for (const noise of NOISES) {
    results[noise.name] = Object.fromEntries(SUSTAINS.map((s) => [`sustain-${s}s`, run(noise, s, 42)]));
  }
  const out = {
    benchmark: 'false-positives',
    what: `${CELLS} cells for ${SECONDS} s of 1 s load samples: calm cells (mean 50–95 % of splitSessions) split = false positive; hot cells (130 %) split = detected (detectionMs: simulated time to the decision)`,
    target: 'PRD: false-positive splits < 5 %',
    /*
     * The PRD counts splits "reversed within cool-down". Merge hysteresis (siblings merge only
     * at ≤ half the split threshold combined) means a calm cell's children, at 50–95 % of it,
     * are never merged back, so that count would be 0 here; the stricter count is kept: splits
     * of cells whose true load never crossed the threshold.
     */
    definition:
      'falsePositiveShareOfSplits: splits of calm cells / all splits; falsePositiveRate: calm cells split / calm cells',
    at: new Date().toISOString(),
    machine: machine(),
    noises: NOISES,
    results,
  };
  mkdirSync(join(ROOT, 'bench-results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench-results', 'false-positives.json'), `${JSON.stringify(out, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

main();
