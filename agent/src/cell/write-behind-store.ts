import {
  toFleetError,
  type FleetError,
  type Session,
  type SessionCheckpoint,
  type SessionStore,
} from '@fleetforge/shared';

export interface WriteBehindOptions {
  /** How often changes go to the checkpoint: the most a crash of the cell loses. */
  flushMs: number;
  /** A newer incarnation owns the checkpoint: this one must stop serving. */
  onFenced: (err: FleetError) => void;
  /** A flush failed for another reason (the changes are kept and retried). */
  onError?: (err: FleetError) => void;
  /** Observes each successful flush (batch size, milliseconds). */
  onFlush?: (changes: number, ms: number) => void;
}

/**
 * A session store that serves from memory and checkpoints changes in the background,
 * one batch per `flushMs` (write-behind): a session request never waits for the
 * durable store, and a crash loses at most the last interval's changes. `flush()`
 * waits for everything done before it, which hand-offs use so a session is never
 * deleted from the parent before the child's copy is durable.
 */
export class WriteBehindSessionStore implements SessionStore {
  private readonly sessions = new Map<string, Session>();
  /** id → the session to write, or null to delete. */
  private dirty = new Map<string, Session | null>();
  private inFlight: Promise<void> | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private fenced: FleetError | undefined;

  constructor(
    private readonly checkpoint: SessionCheckpoint,
    private readonly opts: WriteBehindOptions,
  ) {}

  /**
   * Claims the checkpoint for this incarnation and loads what it holds, keeping only
   * sessions `keep` accepts (those inside the cell's region). Call once, before serving.
   */
  async restore(keep: (s: Session) => boolean): Promise<{ restored: number; dropped: number }> {
    const all = await this.checkpoint.claim();
    let dropped = 0;
    for (const s of all) {
      if (keep(s)) this.sessions.set(s.id, s);
      else {
        dropped += 1;
        this.dirty.set(s.id, null);
      }
    }
    this.timer = setInterval(() => void this.flush().catch(() => undefined), this.opts.flushMs);
    this.timer.unref?.();
    return { restored: this.sessions.size, dropped };
  }

  async get(id: string): Promise<Session | undefined> {
    const s = this.sessions.get(id);
    return s ? structuredClone(s) : undefined;
  }
  async put(session: Session): Promise<void> {
    this.check();
    const copy = structuredClone(session);
    this.sessions.set(session.id, copy);
    this.dirty.set(session.id, copy);
  }
  async delete(id: string): Promise<boolean> {
    this.check();
    const had = this.sessions.delete(id);
    if (had) this.dirty.set(id, null);
    return had;
  }
  async list(): Promise<Session[]> {
    return [...this.sessions.values()].map((s) => structuredClone(s));
  }
  async count(): Promise<number> {
    return this.sessions.size;
  }

  private check(): void {
    if (this.fenced) throw this.fenced;
  }

  /** Writes every pending change; resolves once all changes made before the call are durable. */
  async flush(): Promise<void> {
    // A write already running may predate changes made since: wait for it, then write the rest.
    while (this.inFlight) await this.inFlight.catch(() => undefined);
    if (this.dirty.size === 0) return;
    this.check();
    const batch = this.dirty;
    this.dirty = new Map();
    const started = performance.now();
    const put: Session[] = [];
    const del: string[] = [];
    for (const [id, s] of batch) {
      if (s) put.push(s);
      else del.push(id);
    }
    this.inFlight = this.checkpoint.write({ put, delete: del }).finally(() => (this.inFlight = undefined));
    try {
      await this.inFlight;
      this.opts.onFlush?.(batch.size, performance.now() - started);
    } catch (err) {
      const e = toFleetError(err, 'UNAVAILABLE');
      if (e.details.reason === 'Fenced') {
        this.fenced = e;
        this.opts.onFenced(e);
        throw e;
      }
      // Kept for the next attempt; a change made meanwhile to the same id wins.
      for (const [id, s] of batch) if (!this.dirty.has(id)) this.dirty.set(id, s);
      this.opts.onError?.(e);
      throw e;
    }
  }

  /** Stops the background flushing after one last flush (best effort), and closes the checkpoint. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush().catch(() => undefined);
    await this.checkpoint.close();
  }
}
