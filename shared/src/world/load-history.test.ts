import fc from 'fast-check';
import {
  HISTORY_STEPS,
  LoadHistorySchema,
  foldHistory,
  historySince,
  type FoldedSample,
  type LoadHistory,
} from './load-history';

/** Samples a second or more apart, oldest first, cut into the chunks they leave the window in. */
const run = (maxLength: number) =>
  fc
    .array(fc.record({ gap: fc.integer({ min: 1, max: 5 }), sessions: fc.nat(2000), cpuMillis: fc.nat(4000) }), {
      minLength: 1,
      maxLength,
    })
    .chain((raw) => {
      let at = 1_700_000_000_000;
      const samples: FoldedSample[] = raw.map((r) => ({
        at: (at += r.gap * 1000),
        sessions: r.sessions,
        cpuMillis: r.cpuMillis,
      }));
      return fc.tuple(
        fc.constant(samples),
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: samples.length, maxLength: samples.length }),
        fc.integer({ min: samples[0]!.at - 3000, max: samples.at(-1)!.at + 3000 }),
      );
    });

function foldInChunks(samples: FoldedSample[], sizes: number[]): LoadHistory {
  let h: LoadHistory | null = null;
  for (let i = 0, k = 0; i < samples.length; i += sizes[k++]!) h = foldHistory(h, samples.slice(i, i + sizes[k]!));
  if (!h) throw new Error('nothing folded');
  return h;
}

const truth = (samples: FoldedSample[], since: number) => {
  const after = samples.filter((s) => s.at >= since);
  if (after.length === 0) return undefined;
  return {
    maxSessions: Math.max(...after.map((s) => s.sessions)),
    minSessions: Math.min(...after.map((s) => s.sessions)),
    minCpuMillis: Math.min(...after.map((s) => s.cpuMillis)),
  };
};

describe('load history', () => {
  it('is exact while every list fits, whatever the chunks the samples leave in', () => {
    fc.assert(
      fc.property(run(HISTORY_STEPS), ([samples, sizes, since]) => {
        const h = foldInChunks(samples, sizes);
        const t = truth(samples, since);
        expect(historySince(h.maxSessions, since)).toBe(t?.maxSessions);
        expect(historySince(h.minSessions, since)).toBe(t?.minSessions);
        expect(historySince(h.minCpuMillis, since)).toBe(t?.minCpuMillis);
        expect(h.from).toBe(samples[0]!.at);
      }),
    );
  });

  it('stays bounded and valid, and only ever errs to the safe side (a max too high, a min too low)', () => {
    fc.assert(
      fc.property(run(400), ([samples, sizes, since]) => {
        const h = foldInChunks(samples, sizes);
        const stored = LoadHistorySchema.parse(JSON.parse(JSON.stringify(h)));
        expect(stored).toEqual(h);
        const t = truth(samples, since);
        if (t === undefined) {
          expect(historySince(h.maxSessions, since)).toBeUndefined();
          return;
        }
        expect(historySince(h.maxSessions, since)).toBeGreaterThanOrEqual(t.maxSessions);
        expect(historySince(h.minSessions, since)).toBeLessThanOrEqual(t.minSessions);
        expect(historySince(h.minCpuMillis, since)).toBeLessThanOrEqual(t.minCpuMillis);
      }),
    );
  });

  it.each([
    // name, sessions a second apart, seconds after the first sample, max / min since then
    ['falling load keeps a step per record', [9, 7, 5, 3], 2, 5, 3],
    ['a new peak empties the max list', [3, 5, 7, 9], 0, 9, 3],
    ['since after the last sample: nothing', [4, 4], 5, undefined, undefined],
  ])('%s', (_name, sessions, afterS, max, min) => {
    const h = foldHistory(
      null,
      sessions.map((s, i) => ({ at: 1000 * (i + 1), sessions: s, cpuMillis: 0 })),
    )!;
    expect(historySince(h.maxSessions, 1000 * (afterS + 1))).toBe(max);
    expect(historySince(h.minSessions, 1000 * (afterS + 1))).toBe(min);
  });

  it('a long fall overflows the lists: the oldest steps fold together, on the safe side', () => {
    // 40 s of falling load: 40 records for the max list, more than HISTORY_STEPS.
    const samples = Array.from({ length: 40 }, (_, i) => ({ at: 1000 * (i + 1), sessions: 40 - i, cpuMillis: 40 - i }));
    const h = foldHistory(null, samples)!;
    expect(h.maxSessions.at).toHaveLength(HISTORY_STEPS);
    // Since the 2nd sample the true max is 39; the folded steps answer 40 (too high: safe).
    expect(historySince(h.maxSessions, 2000)).toBe(40);
    // The newer steps are intact: since the 30th sample, exactly 11.
    expect(historySince(h.maxSessions, 30_000)).toBe(11);
    // Minima of a fall are the newest sample alone: exact.
    expect(historySince(h.minSessions, 2000)).toBe(1);
  });

  it('folding nothing changes nothing', () => {
    expect(foldHistory(null, [])).toBeNull();
    const h = foldHistory(null, [{ at: 1, sessions: 1, cpuMillis: 1 }]);
    expect(foldHistory(h, [])).toBe(h);
  });
});
