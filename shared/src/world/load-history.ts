import { z } from 'zod';

/** How many steps each history list keeps; beyond it the two oldest fold into one (conservatively). */
export const HISTORY_STEPS = 24;

const StepsSchema = z
  .strictObject({
    /** Epoch ms, ascending. */
    at: z.array(z.number().int().nonnegative()).max(HISTORY_STEPS),
    v: z.array(z.number().nonnegative()).max(HISTORY_STEPS),
  })
  .refine((s) => s.at.length === s.v.length, { message: 'history steps: at and v must have the same length' });
type Steps = z.infer<typeof StepsSchema>;

/**
 * The extremes of the samples that have left a cell's load window (LOAD_WINDOW_SIZE
 * samples, about a minute), so a sustain longer than the window (merge after ten cold
 * minutes) can still be decided without keeping every sample. Each list is a monotonic
 * stack of suffix extremes: `historySince(list, t)` is the max (or min) of every folded
 * sample at or after `t`, exact until a list overflows HISTORY_STEPS, and from then on
 * only ever more extreme than the truth, so a long window may be judged not sustained,
 * never the other way round. Noisy load keeps the lists short (a new record empties them).
 */
export const LoadHistorySchema = z.strictObject({
  /** Epoch ms of the first folded sample: the history says nothing of earlier times. */
  from: z.number().int().nonnegative(),
  /** Suffix maxima of sessions (values descending): a cold window's test. */
  maxSessions: StepsSchema,
  /** Suffix minima of sessions and CPU (values ascending): a hot window's test. */
  minSessions: StepsSchema,
  minCpuMillis: StepsSchema,
});
export type LoadHistory = z.infer<typeof LoadHistorySchema>;

/** A sample as folded: time in epoch ms. */
export interface FoldedSample {
  at: number;
  sessions: number;
  cpuMillis: number;
}

function push(steps: Steps, at: number, v: number, supersedes: (older: number) => boolean): Steps {
  const times = [...steps.at];
  const values = [...steps.v];
  // An older step no more extreme than this sample says nothing a suffix query needs.
  while (values.length > 0 && supersedes(values.at(-1)!)) {
    times.pop();
    values.pop();
  }
  times.push(at);
  values.push(v);
  if (times.length > HISTORY_STEPS) {
    // The two oldest become one: the older, more extreme value over both spans.
    times.splice(0, 2, times[1]!);
    values.splice(0, 2, values[0]!);
  }
  return { at: times, v: values };
}

/**
 * Folds samples leaving the window (oldest first, each newer than anything folded
 * before) into `history`. Pure; returns `history` itself when there is nothing to fold.
 */
export function foldHistory(history: LoadHistory | null, leaving: readonly FoldedSample[]): LoadHistory | null {
  if (leaving.length === 0) return history;
  const empty: Steps = { at: [], v: [] };
  let h: LoadHistory = history ?? {
    from: leaving[0]!.at,
    maxSessions: empty,
    minSessions: empty,
    minCpuMillis: empty,
  };
  for (const s of leaving) {
    h = {
      from: h.from,
      maxSessions: push(h.maxSessions, s.at, s.sessions, (older) => older <= s.sessions),
      minSessions: push(h.minSessions, s.at, s.sessions, (older) => older >= s.sessions),
      minCpuMillis: push(h.minCpuMillis, s.at, s.cpuMillis, (older) => older >= s.cpuMillis),
    };
  }
  return h;
}

/** The extreme a list holds of every folded sample at or after `since` (epoch ms); undefined if none is. */
export function historySince(steps: Steps, since: number): number | undefined {
  const i = steps.at.findIndex((t) => t >= since);
  return i < 0 ? undefined : steps.v[i];
}
