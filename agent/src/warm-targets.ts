/**
 * How many idle cells the agent keeps warm: each world's `spec.warmPool.size` as its
 * latest start or sync command said, summed, at least `min` and at most `max`. A world
 * not heard of for `forgetAfterMs` (deleted, say) stops counting; syncs come every
 * sentinel sweep (a minute), so a live world never lapses.
 */
export class WarmTargets {
  private readonly worlds = new Map<string, { size: number; at: number }>();

  constructor(private readonly opts: { min: number; max: number; forgetAfterMs: number }) {}

  /** What a command said about a world's pool at monotonic time `now`; null: it did not say. */
  note(world: string, size: number | null, now: number): void {
    if (size === null) return;
    if (size === 0) this.worlds.delete(world);
    else this.worlds.set(world, { size, at: now });
  }

  /** The pool size wanted at `now`, forgetting worlds not heard of in time. */
  total(now: number): number {
    let sum = 0;
    for (const [world, w] of this.worlds) {
      if (now - w.at > this.opts.forgetAfterMs) this.worlds.delete(world);
      else sum += w.size;
    }
    return Math.min(this.opts.max, Math.max(this.opts.min, sum));
  }
}
