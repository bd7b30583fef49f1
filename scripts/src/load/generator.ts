import { z } from 'zod';
import {
  CellRefusalSchema,
  ErrorBodySchema,
  ROUTING_EPOCH_HEADER,
  SessionSchema,
  containsPoint,
  sleep,
  type CellRefusal,
  type Rect,
  type RoutingTable,
} from '@fleetforge/shared';
import { CliError } from '../ffctl/client';
import { Prng, mixSeed } from './prng';

/**
 * The load generator behind `ffctl load`: ramps a world to a number of synthetic
 * player sessions (`load-0` … `load-<N-1>`), moves some of them every tick, follows
 * every re-route a cell asks for (stale routing epoch, hand-off, draining, crash),
 * and finally checks that the world holds exactly the sessions it should.
 */

export interface Hotspot {
  x: number;
  y: number;
  r: number;
}

export interface LoadOptions {
  world: string;
  /** Sessions the world should hold at the end of the ramp. */
  sessions: number;
  /** Places sessions normally around (x, y) with σ = r/2 instead of uniformly. */
  hotspot?: Hotspot;
  /** Linear ramp from the sessions found to `sessions` over this long. */
  rampMs: number;
  seed: number;
  /** Tick length of the ramp; default 200. */
  tickMs?: number;
  /** Share of present sessions that move each tick; default 0.05, 0 disables moves. */
  moveFraction?: number;
  /** How long to wait at the end for the world to hold exactly `sessions`; default 3000. */
  settleMs?: number;
  /** Session requests in flight at once; default 64. */
  concurrency?: number;
}

export interface LoadIo {
  /** The world's routing table (`GET /v1/worlds/{world}/routing`). */
  routing(): Promise<RoutingTable>;
  fetch?: typeof fetch;
  /** Milliseconds on a monotonic clock; default performance.now. */
  now?: () => number;
  log?: (line: string) => void;
}

export interface LoadSummary {
  /** Sessions asked for. */
  target: number;
  /** Distinct `load-*` sessions found across the routed cells at the end. */
  present: number;
  /** Extra copies: sessions found more than once count once per extra copy. */
  duplicates: number;
  /** Indices in [0, target) not found. */
  missing: number;
  /** Join operations completed (new sessions; hand-over re-joins are not counted). */
  joined: number;
  /** Leave operations completed (hand-over deletes are not counted). */
  left: number;
  /** Move operations completed, hand-overs included. */
  moved: number;
  /** Moves across a cell border done client side: DELETE at the old cell, join at the new one. */
  handovers: number;
  /** Refusals and errors that sent a request elsewhere, by reason. */
  reroutes: Record<string, number>;
  /** Sessions a cell no longer knew (404) that were joined again. */
  rejoinedAfterLoss: number;
  /** Operations that did not complete (retries exhausted or an unexpected answer). */
  failures: number;
  /** Per re-routed request: first refusal or error to the successful retry. */
  disconnectMs: { count: number; p50: number; p95: number; max: number };
  /**
   * Operations that succeeded at once, start to answer: what a client waits without any
   * re-route, the yardstick for `disconnectMs` on a loaded machine.
   */
  requestMs: { count: number; p50: number; p95: number; max: number };
  /** `load-*` sessions per cell at the end (duplicates included). */
  perCell: Record<string, number>;
  elapsedMs: number;
}

/** The run reached its target exactly, with no duplicates and no failed operation. */
export function summaryOk(s: LoadSummary): boolean {
  return s.present === s.target && s.duplicates === 0 && s.failures === 0;
}

export const LOAD_SESSION_PREFIX = 'load-';
const LOAD_ID = /^load-(\d+)$/;

export function loadSessionId(index: number): string {
  return `${LOAD_SESSION_PREFIX}${index}`;
}

/** The index of a `load-<index>` session id, undefined for any other id. */
export function parseLoadSessionId(id: string): number | undefined {
  const m = LOAD_ID.exec(id);
  if (!m) return undefined;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) ? n : undefined;
}

export interface Point {
  x: number;
  y: number;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

function clampInto(bounds: Rect, x: number, y: number): Point {
  return {
    x: clamp(Math.round(x), bounds.x, bounds.x + bounds.width - 1),
    y: clamp(Math.round(y), bounds.y, bounds.y + bounds.height - 1),
  };
}

/**
 * Where session `index` joins: a pure function of (seed, index) for given bounds
 * and hotspot. Normal around the hotspot with σ = r/2, else uniform; integers in bounds.
 */
export function sessionPosition(seed: number, index: number, bounds: Rect, hotspot?: Hotspot): Point {
  const rng = new Prng(mixSeed(seed, 1, index));
  if (hotspot) {
    const sigma = hotspot.r / 2;
    return clampInto(bounds, hotspot.x + sigma * rng.normal(), hotspot.y + sigma * rng.normal());
  }
  return { x: bounds.x + rng.int(bounds.width), y: bounds.y + rng.int(bounds.height) };
}

/** Ticks of a ramp: at least one, one per tickMs of rampMs. */
export function rampTicks(rampMs: number, tickMs: number): number {
  return Math.max(1, Math.ceil(rampMs / tickMs));
}

/** Target count at tick k (1..ticks) of a linear ramp from `start` to `target`. */
export function rampTarget(start: number, target: number, k: number, ticks: number): number {
  return Math.round(start + ((target - start) * k) / ticks);
}

type Reason = CellRefusal | 'NotFound' | 'Unreachable' | 'Unrouted';

type Outcome =
  | { kind: 'ok'; status: number; body: unknown }
  | { kind: 'refused'; reason: CellRefusal; details: Record<string, unknown> }
  | { kind: 'notFound' }
  | { kind: 'unreachable'; message: string }
  | { kind: 'error'; message: string };

/**
 * One attempt's result: done; retry after refreshing the table (backing off when repeated);
 * `redirect`: re-routed by the cell itself, retried at once (counted as a re-route);
 * again at once (a phase change, not a refusal); or failed.
 */
type Step<T> = { done: T } | { retry: Reason } | { redirect: Reason } | { again: true } | { fail: string };

type RoutedCell = RoutingTable['cells'][number];

interface Tracked {
  x: number;
  y: number;
  state: Record<string, unknown>;
  /** The cell the session was last placed at (a redirect may have sent it where the table does not say yet). */
  via?: string;
}

const OP_DEADLINE_MS = 10_000;
const REQUEST_TIMEOUT_MS = 5_000;
const MAX_BACKOFF_MS = 1_000;
const MAX_REDIRECTS = 4;
const LOG_EVERY_MS = 1_000;

const SessionListSchema = z.object({ items: z.array(SessionSchema) });

function route(t: RoutingTable, p: Point): RoutedCell | undefined {
  return t.cells.find((c) => containsPoint(c.boundary, p.x, p.y));
}

function describe(err: unknown): string {
  const e = err as Error;
  const cause = e?.cause instanceof Error ? `: ${e.cause.message}` : '';
  return `${e?.message ?? String(err)}${cause}`;
}

/** Runs `fn` over `items` with at most `limit` in flight; `fn` must not throw. */
async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

/** Count, p50, p95 and max of durations in ms (to 0.1 ms). */
function distribution(values: readonly number[]): LoadSummary['disconnectMs'] {
  const sorted = [...values].sort((a, b) => a - b);
  const round = (ms: number) => Math.round(ms * 10) / 10;
  return {
    count: sorted.length,
    p50: round(percentile(sorted, 0.5)),
    p95: round(percentile(sorted, 0.95)),
    max: round(sorted.at(-1) ?? 0),
  };
}

function validate(opts: LoadOptions): void {
  const bad = (flag: string, why: string) => new CliError(`--${flag}: ${why}`);
  if (!Number.isSafeInteger(opts.sessions) || opts.sessions < 0) {
    throw bad('sessions', `must be a non-negative integer, got ${opts.sessions}`);
  }
  if (!Number.isFinite(opts.rampMs) || opts.rampMs < 0) throw bad('ramp', `must be >= 0, got ${opts.rampMs}`);
  if (!Number.isFinite(opts.seed)) throw bad('seed', `must be a number, got ${opts.seed}`);
  if (opts.tickMs !== undefined && !(Number.isFinite(opts.tickMs) && opts.tickMs > 0)) {
    throw bad('tick', `must be > 0, got ${opts.tickMs}`);
  }
  if (opts.moveFraction !== undefined && !(opts.moveFraction >= 0 && opts.moveFraction <= 1)) {
    throw bad('move-fraction', `must be between 0 and 1, got ${opts.moveFraction}`);
  }
  if (opts.settleMs !== undefined && !(Number.isFinite(opts.settleMs) && opts.settleMs >= 0)) {
    throw bad('settle', `must be >= 0, got ${opts.settleMs}`);
  }
  if (opts.concurrency !== undefined && !(Number.isSafeInteger(opts.concurrency) && opts.concurrency > 0)) {
    throw bad('concurrency', `must be a positive integer, got ${opts.concurrency}`);
  }
  const h = opts.hotspot;
  if (h && !(Number.isFinite(h.x) && Number.isFinite(h.y) && Number.isFinite(h.r) && h.r >= 0)) {
    throw bad('hotspot', `needs finite x, y and r >= 0, got ${JSON.stringify(h)}`);
  }
}

interface Observation {
  table: RoutingTable;
  /** Cell id → the `load-*` sessions it holds. */
  byCell: Map<string, z.infer<typeof SessionSchema>[]>;
}

class LoadRun {
  private table: RoutingTable;
  /** World bounds as the run started: positions are a function of them, so they stay fixed. */
  private readonly bounds: Rect;
  private gen = 0;
  private refreshing: Promise<void> | undefined;
  private readonly fetch: typeof fetch;
  private readonly now: () => number;
  private readonly log: (line: string) => void;
  /** The sessions this run believes exist, by index, with position and state. */
  readonly sessions = new Map<number, Tracked>();

  joined = 0;
  left = 0;
  moved = 0;
  handovers = 0;
  rejoinedAfterLoss = 0;
  failures = 0;
  readonly reroutes: Record<string, number> = {};
  /** The epoch each redirect target is known to be at (from the redirecting cell). */
  private readonly epochAt = new Map<string, number>();
  readonly disconnects: number[] = [];
  private readonly uninterrupted: number[] = [];

  constructor(
    readonly opts: LoadOptions,
    private readonly io: LoadIo,
    initial: RoutingTable,
  ) {
    this.table = initial;
    this.bounds = initial.bounds;
    this.fetch = io.fetch ?? ((input, init) => fetch(input, init));
    this.now = io.now ?? (() => performance.now());
    this.log = io.log ?? (() => {});
  }

  /** Fetches the routing table again unless someone already did since `seenGen`; concurrent callers share one fetch. */
  private async refresh(seenGen: number): Promise<void> {
    if (this.gen !== seenGen) return;
    this.refreshing ??= (async () => {
      try {
        const t = await this.io.routing();
        if (t.epoch >= this.table.epoch) this.table = t;
        this.gen++;
      } catch (err) {
        this.log(`routing refresh failed: ${describe(err)}`);
      } finally {
        this.refreshing = undefined;
      }
    })();
    await this.refreshing;
  }

  private async send(
    t: RoutingTable,
    method: string,
    endpoint: string,
    path: string,
    body?: unknown,
  ): Promise<Outcome> {
    // A cell that redirected here said which epoch its target is at; the table may not have caught up.
    const epoch = Math.max(t.epoch, this.epochAt.get(endpoint) ?? 0);
    const headers: Record<string, string> = { [ROUTING_EPOCH_HEADER]: String(epoch) };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let status: number;
    let text: string;
    try {
      const res = await this.fetch(`${endpoint}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      status = res.status;
      text = await res.text();
    } catch (err) {
      return { kind: 'unreachable', message: `${method} ${endpoint}${path}: ${describe(err)}` };
    }
    let json: unknown = text;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      // keep the text
    }
    if (status >= 200 && status < 300) return { kind: 'ok', status, body: json };
    const parsed = ErrorBodySchema.safeParse(json);
    const details = parsed.success ? (parsed.data.error.details ?? {}) : {};
    const reason = CellRefusalSchema.safeParse(details.reason);
    if ((status === 409 || status === 503) && reason.success) return { kind: 'refused', reason: reason.data, details };
    if (status === 404) return { kind: 'notFound' };
    const message = parsed.success ? `${parsed.data.error.code}: ${parsed.data.error.message}` : text.slice(0, 300);
    // Gateways and overloaded cells: try again like a dead connection.
    if (status === 502 || status === 503 || status === 504) return { kind: 'unreachable', message };
    return { kind: 'error', message: `${method} ${endpoint}${path}: HTTP ${status} ${message}` };
  }

  /**
   * Drives one operation: calls `step` with the current routing table until it is
   * done, refreshing the table and backing off between re-routes, for up to ~10 s.
   * Counts re-routes by reason and the disconnect window of re-routed operations.
   */
  private async operate<T>(
    what: string,
    step: (t: RoutingTable) => Promise<Step<T>>,
    /** Counted in `requestMs` when answered at once: session operations, not whole-world listings. */
    timed = true,
  ): Promise<T | undefined> {
    const started = this.now();
    let firstRefusal: number | undefined;
    let attempt = 0;
    let redirects = 0;
    for (;;) {
      const gen = this.gen;
      let r: Step<T>;
      try {
        r = await step(this.table);
      } catch (err) {
        r = { fail: describe(err) };
      }
      if ('again' in r) continue;
      if ('done' in r) {
        if (firstRefusal !== undefined) this.disconnects.push(this.now() - firstRefusal);
        else if (timed) this.uninterrupted.push(this.now() - started);
        return r.done;
      }
      if ('fail' in r) {
        this.failures++;
        this.log(`${what} failed: ${r.fail}`);
        return undefined;
      }
      const reason = 'retry' in r ? r.retry : r.redirect;
      this.reroutes[reason] = (this.reroutes[reason] ?? 0) + 1;
      firstRefusal ??= this.now();
      if (this.now() - started >= OP_DEADLINE_MS) {
        this.failures++;
        this.log(`${what} failed: still ${reason} after ${Math.round(this.now() - started)} ms`);
        return undefined;
      }
      // A cell's own redirect is followed at once, a few times (cells never send one back, but a bug must not spin).
      if ('redirect' in r && redirects++ < MAX_REDIRECTS) continue;
      await this.refresh(gen);
      // A refusal with a fresh table is retried at once; anything repeated, or a dead cell, backs off.
      if (attempt > 0 || reason === 'Unreachable' || reason === 'Unrouted') {
        const left = OP_DEADLINE_MS - (this.now() - started);
        await sleep(Math.min(MAX_BACKOFF_MS, 25 * 2 ** Math.min(attempt, 6), Math.max(0, left)));
      }
      attempt++;
    }
  }

  /**
   * Turns a refusal into a retry. A cell that handed its region off says where to go
   * (`Moved` for a session, `Draining` with an endpoint for a join) and at which epoch:
   * the retry goes straight there, without waiting for the routing table to switch.
   */
  private refusal(o: Extract<Outcome, { kind: 'refused' }>, hint: (endpoint: string) => void): Step<never> {
    const { endpoint, epoch } = o.details;
    if ((o.reason === 'Moved' || o.reason === 'Draining') && typeof endpoint === 'string') {
      if (typeof epoch === 'number' && epoch > (this.epochAt.get(endpoint) ?? 0)) this.epochAt.set(endpoint, epoch);
      hint(endpoint);
      return { redirect: o.reason };
    }
    return { retry: o.reason };
  }

  /** Joins session `index` at `p` in the cell that owns p (or where a draining owner sent it). */
  private joiner(index: number, p: Point, state: Record<string, unknown>) {
    let hint: string | undefined;
    return async (t: RoutingTable): Promise<Step<string>> => {
      const endpoint = hint ?? route(t, p)?.endpoint;
      hint = undefined;
      if (!endpoint) return { retry: 'Unrouted' };
      const body = { id: loadSessionId(index), x: p.x, y: p.y, state };
      const o = await this.send(t, 'POST', endpoint, '/v1/sessions', body);
      switch (o.kind) {
        case 'ok':
          return { done: endpoint };
        case 'refused':
          return this.refusal(o, (e) => (hint = e));
        case 'notFound':
          return { retry: 'NotFound' };
        case 'unreachable':
          return { retry: 'Unreachable' };
        case 'error':
          return { fail: o.message };
      }
    };
  }

  async join(index: number): Promise<void> {
    const p = sessionPosition(this.opts.seed, index, this.bounds, this.opts.hotspot);
    const state = { source: 'ffctl-load', index };
    const at = await this.operate(`join ${loadSessionId(index)}`, this.joiner(index, p, state));
    if (!at) return;
    this.joined++;
    this.sessions.set(index, { ...p, state, via: at });
  }

  /**
   * Where to reach a session before the table says so: the cell a redirect placed it at,
   * while the table is older than what that cell is known to run at.
   */
  private sticky(s: Tracked): string | undefined {
    return s.via && (this.epochAt.get(s.via) ?? 0) > this.table.epoch ? s.via : undefined;
  }

  /**
   * Deletes session `index` that lives at `from`: 'deleted', or 'gone' when no cell
   * knows it (404 twice, with a refreshed table in between).
   */
  private deleter(index: number, from: Point, at?: string) {
    let hint = at;
    let notFoundOnce = false;
    let maybeApplied = false;
    const id = loadSessionId(index);
    return async (t: RoutingTable): Promise<Step<'deleted' | 'gone'>> => {
      const endpoint = hint ?? route(t, from)?.endpoint;
      hint = undefined;
      if (!endpoint) return { retry: 'Unrouted' };
      const o = await this.send(t, 'DELETE', endpoint, `/v1/sessions/${encodeURIComponent(id)}`);
      switch (o.kind) {
        case 'ok':
          return { done: 'deleted' };
        case 'refused':
          return this.refusal(o, (e) => (hint = e));
        case 'notFound':
          // After a lost answer the delete may well have happened.
          if (maybeApplied) return { done: 'deleted' };
          if (!notFoundOnce) {
            notFoundOnce = true;
            return { retry: 'NotFound' };
          }
          return { done: 'gone' };
        case 'unreachable':
          maybeApplied = true;
          return { retry: 'Unreachable' };
        case 'error':
          return { fail: o.message };
      }
    };
  }

  async leave(index: number): Promise<void> {
    const s = this.sessions.get(index);
    if (!s) return;
    const r = await this.operate(`leave ${loadSessionId(index)}`, this.deleter(index, s, this.sticky(s)));
    if (!r) return;
    if (r === 'gone') this.log(`leave ${loadSessionId(index)}: no cell had it any more`);
    this.left++;
    this.sessions.delete(index);
  }

  /** Deletes one copy of a session at a given cell (duplicates found at the start). */
  async dropCopy(index: number, cellId: string): Promise<void> {
    const id = loadSessionId(index);
    const r = await this.operate(`drop duplicate ${id} at ${cellId}`, async (t) => {
      const cell = t.cells.find((c) => c.id === cellId);
      if (!cell) return { done: true };
      const o = await this.send(t, 'DELETE', cell.endpoint, `/v1/sessions/${encodeURIComponent(id)}`);
      if (o.kind === 'ok' || o.kind === 'notFound') return { done: true };
      if (o.kind === 'refused') return o.reason === 'Moved' ? { done: true } : { retry: o.reason };
      if (o.kind === 'unreachable') return { retry: 'Unreachable' };
      return { fail: o.message };
    });
    if (r) this.left++;
  }

  /**
   * Moves session `index` to `to`. Within one cell a move; across a border (known
   * from the table, or from an OutsideRegion refusal) a client-side hand-over:
   * DELETE at the old cell, join at the new one with the same id and state. A
   * session no cell knows any more is joined again at `to`.
   */
  async move(index: number, to: Point): Promise<void> {
    const s = this.sessions.get(index);
    if (!s) return;
    const id = loadSessionId(index);
    let phase = 'move' as 'move' | 'handover' | 'rejoin';
    let at = this.sticky(s);
    let notFoundOnce = false;
    let deleter: ((t: RoutingTable) => Promise<Step<'deleted' | 'gone'>>) | undefined;
    let lost = false;
    const rejoin = this.joiner(index, to, s.state);
    const step = async (t: RoutingTable): Promise<Step<string>> => {
      if (phase === 'move') {
        const src = at ?? route(t, s)?.endpoint;
        const dst = route(t, to)?.endpoint;
        if (!src || !dst) return { retry: 'Unrouted' };
        // Where a redirect sent us the table is no guide to borders: the cell says OutsideRegion.
        if (!at && src !== dst) {
          phase = 'handover';
          deleter = this.deleter(index, s);
          return { again: true };
        }
        at = undefined;
        const o = await this.send(t, 'POST', src, `/v1/sessions/${encodeURIComponent(id)}/move`, to);
        switch (o.kind) {
          case 'ok':
            return { done: src };
          case 'refused':
            if (o.reason === 'OutsideRegion') {
              // The cell has the session but not the destination: hand it over from here.
              phase = 'handover';
              deleter = this.deleter(index, s, src);
              return { retry: 'OutsideRegion' };
            }
            return this.refusal(o, (e) => (at = e));
          case 'notFound':
            if (!notFoundOnce) {
              notFoundOnce = true;
              return { retry: 'NotFound' };
            }
            lost = true;
            phase = 'rejoin';
            return { again: true };
          case 'unreachable':
            return { retry: 'Unreachable' };
          case 'error':
            return { fail: o.message };
        }
      }
      if (phase === 'handover') {
        const r = await deleter!(t);
        if (!('done' in r)) return r;
        if (r.done === 'gone') lost = true;
        phase = 'rejoin';
        return { again: true };
      }
      return rejoin(t);
    };
    const placed = await this.operate(`move ${id}`, step);
    if (!placed) {
      // Deleted at the old cell but not joined at the new one: it is gone.
      if (phase === 'rejoin') this.sessions.delete(index);
      return;
    }
    this.moved++;
    if (lost) {
      this.rejoinedAfterLoss++;
      this.log(`move ${id}: the session was lost; joined it again`);
    } else if (deleter) this.handovers++;
    this.sessions.set(index, { ...s, ...to, via: placed });
  }

  /** Lists the `load-*` sessions of every routed cell, all under one routing table. */
  async observe(): Promise<Observation | undefined> {
    const list = async (t: RoutingTable): Promise<Step<Observation>> => {
      const outcomes = await Promise.all(t.cells.map((c) => this.send(t, 'GET', c.endpoint, '/v1/sessions')));
      const byCell = new Map<string, z.infer<typeof SessionSchema>[]>();
      for (const [i, o] of outcomes.entries()) {
        const cell = t.cells[i]!;
        switch (o.kind) {
          case 'ok': {
            const parsed = SessionListSchema.safeParse(o.body);
            if (!parsed.success) return { fail: `unexpected session list from ${cell.id}: ${parsed.error.message}` };
            byCell.set(
              cell.id,
              parsed.data.items.filter((s) => parseLoadSessionId(s.id) !== undefined),
            );
            break;
          }
          case 'refused':
            return { retry: o.reason };
          case 'notFound':
            return { retry: 'NotFound' };
          case 'unreachable':
            return { retry: 'Unreachable' };
          case 'error':
            return { fail: o.message };
        }
      }
      return { done: { table: t, byCell } };
    };
    // A whole-world listing is not a session operation: not counted in requestMs.
    return this.operate('list sessions', list, false);
  }

  /** Moves for tick k: a seeded choice of `moveFraction` of the candidates, each by a small seeded step. */
  planMoves(k: number, candidates: readonly number[]): [number, Point][] {
    const fraction = this.opts.moveFraction ?? 0.05;
    const count = Math.min(candidates.length, Math.round(fraction * candidates.length));
    if (count === 0) return [];
    const rng = new Prng(mixSeed(this.opts.seed, 2, k));
    const pool = [...candidates];
    const b = this.bounds;
    const sx = Math.max(1, Math.floor(b.width * 0.02));
    const sy = Math.max(1, Math.floor(b.height * 0.02));
    const moves: [number, Point][] = [];
    for (let j = 0; j < count; j++) {
      const pick = j + rng.int(pool.length - j);
      [pool[j], pool[pick]] = [pool[pick]!, pool[j]!];
      const index = pool[j]!;
      const s = this.sessions.get(index)!;
      const dx = rng.int(2 * sx + 1) - sx;
      const dy = rng.int(2 * sy + 1) - sy;
      moves.push([index, clampInto(b, s.x + dx, s.y + dy)]);
    }
    return moves;
  }

  summary(obs: Observation | undefined, started: number): LoadSummary {
    const target = this.opts.sessions;
    const seen = new Map<string, number>();
    const perCell: Record<string, number> = {};
    for (const [cell, sessions] of obs?.byCell ?? []) {
      perCell[cell] = sessions.length;
      for (const s of sessions) seen.set(s.id, (seen.get(s.id) ?? 0) + 1);
    }
    let duplicates = 0;
    for (const n of seen.values()) duplicates += n - 1;
    let missing = 0;
    for (let i = 0; i < target; i++) if (!seen.has(loadSessionId(i))) missing++;
    return {
      target,
      present: seen.size,
      duplicates,
      missing,
      joined: this.joined,
      left: this.left,
      moved: this.moved,
      handovers: this.handovers,
      reroutes: { ...this.reroutes },
      rejoinedAfterLoss: this.rejoinedAfterLoss,
      failures: this.failures,
      disconnectMs: distribution(this.disconnects),
      requestMs: distribution(this.uninterrupted),
      perCell,
      elapsedMs: Math.round(this.now() - started),
    };
  }

  exact(obs: Observation | undefined): boolean {
    if (!obs) return false;
    const seen = new Set<string>();
    for (const sessions of obs.byCell.values()) {
      for (const s of sessions) {
        const i = parseLoadSessionId(s.id)!;
        if (i >= this.opts.sessions || seen.has(s.id)) return false;
        seen.add(s.id);
      }
    }
    return seen.size === this.opts.sessions;
  }

  async run(): Promise<LoadSummary> {
    const started = this.now();
    const N = this.opts.sessions;
    const tickMs = this.opts.tickMs ?? 200;
    const limit = this.opts.concurrency ?? 64;

    // Discover what earlier runs left behind, and drop extra copies of a session.
    const found = await this.observe();
    if (!found) throw new CliError(`cannot list the sessions of world ${this.opts.world}; see the log above`);
    const drops: [number, string][] = [];
    for (const cell of found.table.cells) {
      for (const s of found.byCell.get(cell.id) ?? []) {
        const i = parseLoadSessionId(s.id)!;
        if (this.sessions.has(i)) drops.push([i, cell.id]);
        else this.sessions.set(i, { x: s.x, y: s.y, state: s.state });
      }
    }
    await pool(drops, limit, ([i, cell]) => this.dropCopy(i, cell));
    const start = this.sessions.size;
    this.log(
      `world ${this.opts.world}: ${start} load sessions in ${found.table.cells.length} cells at routing epoch ${this.table.epoch}` +
        (drops.length > 0 ? ` (dropped ${drops.length} duplicate copies)` : ''),
    );

    const ticks = rampTicks(this.opts.rampMs, tickMs);
    const t0 = this.now();
    let lastLog = -Infinity;
    for (let k = 1; k <= ticks; k++) {
      await sleep(t0 + (k * this.opts.rampMs) / ticks - this.now());
      const want = rampTarget(start, N, k, ticks);
      const present = [...this.sessions.keys()].sort((a, b) => a - b);
      let leaves: number[];
      const joins: number[] = [];
      if (k === ticks) {
        // The last tick lands exactly on load-0 … load-<N-1>.
        leaves = present.filter((i) => i >= N).reverse();
        for (let i = 0; i < N; i++) if (!this.sessions.has(i)) joins.push(i);
      } else if (present.length > want) {
        leaves = present.slice(want).reverse();
      } else {
        leaves = [];
        for (let i = 0; i < N && joins.length < want - present.length; i++) if (!this.sessions.has(i)) joins.push(i);
      }
      const leaving = new Set(leaves);
      const moves = this.planMoves(
        k,
        present.filter((i) => !leaving.has(i)),
      );
      const ops: (() => Promise<void>)[] = [
        ...leaves.map((i) => () => this.leave(i)),
        ...joins.map((i) => () => this.join(i)),
        ...moves.map(
          ([i, to]) =>
            () =>
              this.move(i, to),
        ),
      ];
      await pool(ops, limit, (op) => op());
      if (k === ticks || this.now() - lastLog >= LOG_EVERY_MS) {
        lastLog = this.now();
        this.log(
          `tick ${k}/${ticks}: target ${want}, +${joins.length} -${leaves.length} ~${moves.length}, ` +
            `${this.sessions.size} sessions, epoch ${this.table.epoch}`,
        );
      }
    }

    // Settle: the world should hold exactly load-0 … load-<N-1>, each once.
    const settleMs = this.opts.settleMs ?? 3000;
    const deadline = this.now() + settleMs;
    let obs = await this.observe();
    while (!this.exact(obs) && this.now() < deadline) {
      await sleep(Math.min(250, deadline - this.now()));
      obs = await this.observe();
    }
    const summary = this.summary(obs, started);
    this.log(
      `settled: ${summary.present}/${summary.target} present, ${summary.duplicates} duplicates, ${summary.missing} missing` +
        (summaryOk(summary) ? '' : ' (NOT OK)'),
    );
    return summary;
  }
}

/**
 * Ramps world `opts.world` to `opts.sessions` synthetic sessions and verifies it.
 * Deterministic for a seed: the same phases, positions and final distribution.
 */
export async function runLoad(opts: LoadOptions, io: LoadIo): Promise<LoadSummary> {
  validate(opts);
  const table = await io.routing();
  if (table.cells.length === 0) throw new CliError(`world ${opts.world} has no routed cells yet; is it Ready?`);
  return new LoadRun(opts, io, table).run();
}
