import { cpus, totalmem, platform, release } from 'node:os';

/** What a benchmark ran on: numbers mean little without it. */
export function machine(): Record<string, unknown> {
  const c = cpus();
  return {
    cpuModel: c[0]?.model ?? 'unknown',
    cores: c.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${platform()} ${release()}`,
    node: process.version,
  };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function summarize(samplesMs: number[]): Record<string, number> {
  const s = [...samplesMs].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x);
  return {
    runs: s.length,
    p50Ms: r(percentile(s, 50)),
    p95Ms: r(percentile(s, 95)),
    minMs: r(s[0] ?? NaN),
    maxMs: r(s.at(-1) ?? NaN),
  };
}
