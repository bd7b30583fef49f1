/**
 * Quantiles of a Prometheus histogram summed over several `/metrics` endpoints (one per
 * function process in the local stack), as `histogram_quantile` computes them: linear
 * inside the bucket the rank falls in. Coarse by design (as coarse as the buckets), but
 * it measures what production dashboards show.
 */

/** Cumulative bucket counts by upper bound (`+Inf` as Infinity). */
export type Buckets = Map<number, number>;

/** The `<name>_bucket` series of one exposition, summed over label sets. */
export function parseBuckets(exposition: string, name: string): Buckets {
  const out: Buckets = new Map();
  const prefix = `${name}_bucket{`;
  for (const line of exposition.split('\n')) {
    if (!line.startsWith(prefix)) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (le === undefined || !Number.isFinite(value)) continue;
    const bound = le === '+Inf' ? Infinity : Number(le);
    out.set(bound, (out.get(bound) ?? 0) + value);
  }
  return out;
}

/** `after - before`, bucket by bucket: what happened between two scrapes. */
export function bucketDelta(after: Buckets, before: Buckets): Buckets {
  return new Map([...after].map(([le, n]) => [le, n - (before.get(le) ?? 0)]));
}

export function sumBuckets(all: readonly Buckets[]): Buckets {
  const out: Buckets = new Map();
  for (const b of all) for (const [le, n] of b) out.set(le, (out.get(le) ?? 0) + n);
  return out;
}

/**
 * The q-quantile (0..1) in the histogram's unit; NaN with no observations. A rank in
 * the `+Inf` bucket returns the largest finite bound (as Prometheus does).
 */
export function histogramQuantile(buckets: Buckets, q: number): number {
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total === 0) return NaN;
  const rank = q * total;
  let prevBound = 0;
  let prevCount = 0;
  for (const [bound, count] of sorted) {
    if (count >= rank) {
      if (bound === Infinity) return prevBound;
      if (count === prevCount) return bound;
      return prevBound + ((bound - prevBound) * (rank - prevCount)) / (count - prevCount);
    }
    prevBound = bound;
    prevCount = count;
  }
  return prevBound;
}

/** Scrapes every endpoint and sums the histogram; an endpoint that does not answer counts as empty. */
export async function scrapeBuckets(urls: readonly string[], name: string): Promise<Buckets> {
  const all = await Promise.all(
    urls.map(async (u) => {
      try {
        const res = await fetch(u);
        return res.ok ? parseBuckets(await res.text(), name) : new Map<number, number>();
      } catch {
        return new Map<number, number>();
      }
    }),
  );
  return sumBuckets(all);
}
