import type { Clock, Ids } from '../ports/interfaces';

/** A clock tests move by hand. */
export class FakeClock implements Clock {
  private t: number;
  constructor(start: Date | string = '2026-01-01T00:00:00.000Z') {
    this.t = new Date(start).getTime();
  }
  now(): Date {
    return new Date(this.t);
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

/** Deterministic ids: `prefix-1`, `prefix-2`, … */
export class SeqIds implements Ids {
  private n = 0;
  next(prefix = 'id'): string {
    return `${prefix}-${++this.n}`;
  }
}
