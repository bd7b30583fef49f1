import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry } from 'prom-client';
import {
  FleetError,
  HandoffRequestSchema,
  ImportRequestSchema,
  JoinRequestSchema,
  ROUTING_EPOCH_HEADER,
  MemorySessionStore,
  MoveRequestSchema,
  containsPoint,
  formatRect,
  parseOrThrow,
  sleep,
  toFleetError,
  type HandoffResult,
  type HandoffTarget,
  type Rect,
  type Session,
  type SessionStore,
} from '@fleetforge/shared';

export interface CellRuntimeOptions {
  world: string;
  cell: string;
  incarnation: number;
  boundary: Rect;
  capacitySessions: number;
  /** Routing epoch the cell starts in; requests routed with an older one are refused. */
  epoch?: number;
  /** Test switch: never report ready (exercises split rollback). */
  neverReady?: boolean;
  host?: string;
  port?: number;
  store?: SessionStore;
  /** Sessions restored from the checkpoint at start (reported by /v1/info). */
  restored?: number;
}

/** Bins per axis of the position histogram in load samples. */
export const HIST_BINS = 32;

export interface LoadSampleOut {
  at: string;
  sessions: number;
  cpuMillis: number;
  memoryMiB: number;
  hist: { x: number[]; y: number[] };
}

const MAX_BODY = 8 * 1024 * 1024;

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new FleetError('INVALID_ARGUMENT', 'body too large');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new FleetError('INVALID_ARGUMENT', 'body is not valid JSON');
  }
}

function send(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  res.writeHead(status, { 'content-type': type });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

/**
 * One cell: owns a region and the sessions in it. Health, readiness, Prometheus
 * metrics and a sessions API (join, move, leave) on a loopback port.
 */
export class CellRuntime {
  readonly store: SessionStore;
  private server: Server | undefined;
  private draining = false;
  private ready = false;
  /** The cell's Prometheus registry (main.ts adds the checkpoint's metrics to it). */
  readonly registry = new Registry();
  private readonly sessionsGauge: Gauge;
  private readonly joins: Counter;
  private readonly rejects: Counter;
  private lastCpu = process.cpuUsage();
  private lastCpuAt = performance.now();
  private seq = 0;
  private epoch: number;
  private handedOff = 0;
  /** Where handed-off sessions went, so a client that asks the old cell is told where to go. */
  private readonly movedTo = new Map<string, { cell: string; endpoint: string }>();
  /** The cells this one hands its region to (from the first hand-off), for joins that arrive meanwhile. */
  private handoffTargets: HandoffTarget[] = [];

  constructor(readonly opts: CellRuntimeOptions) {
    this.store = opts.store ?? new MemorySessionStore();
    this.epoch = opts.epoch ?? 1;
    const labels = { world: opts.world, cell: opts.cell };
    this.registry.setDefaultLabels(labels);
    this.sessionsGauge = new Gauge({
      name: 'sessions_active',
      help: 'Sessions this cell holds.',
      registers: [this.registry],
    });
    this.joins = new Counter({
      name: 'session_joins_total',
      help: 'Sessions that joined this cell.',
      registers: [this.registry],
    });
    this.rejects = new Counter({
      name: 'session_rejects_total',
      help: 'Session requests rejected, by reason.',
      labelNames: ['reason'],
      registers: [this.registry],
    });
    new Gauge({
      name: 'cell_capacity_sessions',
      help: 'Sessions this cell is sized for.',
      registers: [this.registry],
    }).set(opts.capacitySessions);
  }

  get endpoint(): string {
    const addr = this.server?.address() as AddressInfo | null | undefined;
    if (!addr) throw new Error('cell not listening');
    return `http://${this.opts.host ?? '127.0.0.1'}:${addr.port}`;
  }

  async listen(): Promise<string> {
    this.server = createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => {
        const e = toFleetError(err);
        send(res, e.httpStatus, e.toJSON());
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.opts.port ?? 0, this.opts.host ?? '127.0.0.1', resolve);
    });
    this.ready = true;
    return this.endpoint;
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://cell');
    const parts = url.pathname.split('/').filter(Boolean);
    const method = req.method ?? 'GET';
    if (method === 'GET' && url.pathname === '/healthz') return send(res, 200, { ok: true });
    if (method === 'GET' && url.pathname === '/readyz') {
      return this.ready && !this.draining && !this.opts.neverReady
        ? send(res, 200, { ok: true })
        : send(res, 503, { ok: false, draining: this.draining });
    }
    if (method === 'GET' && url.pathname === '/metrics') {
      this.sessionsGauge.set(await this.store.count());
      return send(res, 200, await this.registry.metrics(), this.registry.contentType);
    }
    if (method === 'GET' && url.pathname === '/v1/info') {
      return send(res, 200, {
        world: this.opts.world,
        cell: this.opts.cell,
        incarnation: this.opts.incarnation,
        boundary: this.opts.boundary,
        sessions: await this.store.count(),
        epoch: this.epoch,
        draining: this.draining,
        handedOff: this.handedOff,
        restored: this.opts.restored ?? 0,
        pid: process.pid,
      });
    }
    // The load sample the process driver gets over IPC, for drivers that can only reach the cell over HTTP (pods).
    if (method === 'GET' && url.pathname === '/v1/sample') return send(res, 200, await this.sample());
    if (method === 'POST' && url.pathname === '/v1/handoff') return this.handoff(req, res);
    if (method === 'POST' && url.pathname === '/v1/sessions:import') return this.import(req, res);
    if (parts[0] === 'v1' && parts[1] === 'sessions') {
      const id = decodeURIComponent(parts[2] ?? '');
      // A session this cell handed off, or a join while it hands its region off, is redirected
      // before the epoch check: the client's table is older than the hand-off until the control
      // plane switches routing, and a redirect (with the new epoch) spares it waiting for that.
      if (parts.length >= 3) await this.redirectMoved(id);
      if (parts.length === 2 && method === 'POST' && this.draining) return this.join(req, res);
      this.checkEpoch(req);
      if (parts.length === 2 && method === 'GET') return send(res, 200, { items: await this.store.list() });
      if (parts.length === 2 && method === 'POST') return this.join(req, res);
      if (parts.length === 3 && method === 'GET') return send(res, 200, await this.mustGet(id));
      if (parts.length === 3 && method === 'DELETE') {
        await this.mustGet(id);
        await this.store.delete(id);
        return send(res, 204, '');
      }
      if (parts.length === 4 && parts[3] === 'move' && method === 'POST') return this.move(id, req, res);
    }
    send(res, 404, new FleetError('NOT_FOUND', `no route ${method} ${url.pathname}`).toJSON());
  }

  private outside(x: number, y: number): FleetError {
    return new FleetError(
      'CONFLICT',
      `position ${x},${y} is outside this cell's region ${formatRect(this.opts.boundary)}`,
      {
        details: { reason: 'OutsideRegion', boundary: this.opts.boundary, epoch: this.epoch },
      },
    );
  }

  /**
   * A draining cell takes no new sessions. While it hands its region off, the refusal
   * names the target that owns the position and the hand-off's epoch, so the client can
   * join there at once (the target accepts that epoch: it imported at it).
   */
  private drainingRefusal(x?: number, y?: number): FleetError {
    const target =
      x === undefined || y === undefined ? undefined : this.handoffTargets.find((t) => containsPoint(t.boundary, x, y));
    return new FleetError('UNAVAILABLE', 'cell is draining; refresh the routing table', {
      details: {
        reason: 'Draining',
        epoch: this.epoch,
        ...(target ? { movedTo: target.cell, endpoint: target.endpoint } : {}),
      },
    });
  }

  private async join(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = parseOrThrow(JoinRequestSchema, await readJson(req), 'join request');
    if (this.draining) throw this.drainingRefusal(body.x, body.y);
    if (!containsPoint(this.opts.boundary, body.x, body.y)) {
      this.rejects.inc({ reason: 'outside' });
      throw this.outside(body.x, body.y);
    }
    const id = body.id ?? `${this.opts.cell}-${process.pid}-${++this.seq}`;
    const existing = await this.store.get(id);
    if (existing) return send(res, 200, existing);
    // Checked again after the lookup: a hand-off may have started meanwhile, and a session
    // stored now would be left behind in a cell that no longer serves its region.
    if (this.draining) throw this.drainingRefusal(body.x, body.y);
    const session = { id, x: body.x, y: body.y, joinedAt: new Date().toISOString(), state: body.state ?? {} };
    await this.store.put(session);
    this.joins.inc();
    send(res, 201, session);
  }

  private async move(id: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = parseOrThrow(MoveRequestSchema, await readJson(req), 'move request');
    const s = await this.mustGet(id);
    if (!containsPoint(this.opts.boundary, body.x, body.y)) {
      this.rejects.inc({ reason: 'outside' });
      throw this.outside(body.x, body.y);
    }
    const moved = { ...s, x: body.x, y: body.y };
    await this.store.put(moved);
    send(res, 200, moved);
  }

  /** Refuses a request routed with an older epoch; a newer one means this cell is behind, so it catches up. */
  private checkEpoch(req: IncomingMessage): void {
    const header = req.headers[ROUTING_EPOCH_HEADER];
    if (header === undefined) return;
    const epoch = Number(header);
    if (!Number.isInteger(epoch))
      throw new FleetError('INVALID_ARGUMENT', `${ROUTING_EPOCH_HEADER} must be an integer`);
    if (epoch < this.epoch) {
      throw new FleetError(
        'CONFLICT',
        `routing epoch ${epoch} is stale (cell is at ${this.epoch}); refresh the routing table`,
        {
          details: { reason: 'StaleEpoch', epoch: this.epoch },
        },
      );
    }
    this.epoch = epoch;
  }

  private async mustGet(id: string): Promise<Session> {
    const s = await this.store.get(id);
    if (s) return s;
    await this.redirectMoved(id);
    throw new FleetError('NOT_FOUND', `no session ${id}`);
  }

  /** Throws `Moved` (where to, and at which epoch) for a session this cell handed off and no longer holds. */
  private async redirectMoved(id: string): Promise<void> {
    const moved = this.movedTo.get(id);
    if (!moved || (await this.store.get(id))) return;
    throw new FleetError('CONFLICT', `session ${id} moved to cell ${moved.cell}`, {
      details: { reason: 'Moved', movedTo: moved.cell, endpoint: moved.endpoint, epoch: this.epoch },
    });
  }

  /**
   * Hands every session to the target that owns its position, in one batch per
   * target, then forgets it here. Idempotent: a retry moves what is left.
   * From the first call the cell is draining: it takes no new sessions.
   */
  private async handoff(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = parseOrThrow(HandoffRequestSchema, await readJson(req), 'hand-off request');
    this.draining = true;
    if (this.handoffTargets.length === 0) this.handoffTargets = body.targets;
    this.epoch = Math.max(this.epoch, body.epoch);
    const sessions = await this.store.list();
    const byTarget = new Map<HandoffTarget, Session[]>();
    for (const s of sessions) {
      const target = body.targets.find((t) => containsPoint(t.boundary, s.x, s.y));
      if (!target) throw new FleetError('FAILED_PRECONDITION', `no target owns session ${s.id} at ${s.x},${s.y}`);
      const batch = byTarget.get(target);
      if (batch) batch.push(s);
      else byTarget.set(target, [s]);
    }
    const counts: Record<string, number> = {};
    await Promise.all(
      [...byTarget].map(async ([target, batch]) => {
        const r = await fetch(`${target.endpoint}/v1/sessions:import`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ epoch: this.epoch, sessions: batch }),
          signal: AbortSignal.timeout(10_000),
        });
        if (!r.ok)
          throw new FleetError('UNAVAILABLE', `import into ${target.cell} failed: HTTP ${r.status} ${await r.text()}`);
        // Only after the target holds them: a failed import loses nothing.
        for (const s of batch) {
          await this.store.delete(s.id);
          this.movedTo.set(s.id, { cell: target.cell, endpoint: target.endpoint });
        }
        this.handedOff += batch.length;
        counts[target.cell] = batch.length;
      }),
    );
    // The forgetting is durable too, so a replacement of this cell cannot restore sessions the children own.
    await this.store.flush();
    const result: HandoffResult = { moved: this.handedOff, remaining: await this.store.count(), byTarget: counts };
    send(res, 200, result);
  }

  private async import(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = parseOrThrow(ImportRequestSchema, await readJson(req), 'import request');
    const outside = body.sessions.find((s) => !containsPoint(this.opts.boundary, s.x, s.y));
    if (outside) throw this.outside(outside.x, outside.y);
    this.epoch = Math.max(this.epoch, body.epoch);
    for (const s of body.sessions) {
      await this.store.put(s);
      this.movedTo.delete(s.id);
    }
    // The parent deletes its copies once this answers: ours must be durable first.
    await this.store.flush();
    send(res, 200, { imported: body.sessions.length });
  }

  private async histogram(): Promise<{ x: number[]; y: number[] }> {
    const b = this.opts.boundary;
    const x = new Array<number>(HIST_BINS).fill(0);
    const y = new Array<number>(HIST_BINS).fill(0);
    for (const s of await this.store.list()) {
      x[Math.min(HIST_BINS - 1, Math.floor(((s.x - b.x) * HIST_BINS) / b.width))]!++;
      y[Math.min(HIST_BINS - 1, Math.floor(((s.y - b.y) * HIST_BINS) / b.height))]!++;
    }
    return { x, y };
  }

  /** CPU as millicores used since the last sample, memory as RSS. */
  async sample(): Promise<LoadSampleOut> {
    const cpu = process.cpuUsage(this.lastCpu);
    const now = performance.now();
    const elapsedMs = Math.max(1, now - this.lastCpuAt);
    this.lastCpu = process.cpuUsage();
    this.lastCpuAt = now;
    return {
      at: new Date().toISOString(),
      sessions: await this.store.count(),
      cpuMillis: Math.round(((cpu.user + cpu.system) / 1000 / elapsedMs) * 1000),
      memoryMiB: Math.round((process.memoryUsage.rss() / 1024 / 1024) * 10) / 10,
      hist: await this.histogram(),
    };
  }

  /**
   * Stops taking sessions, then closes the port. A cell that handed sessions off first
   * keeps answering for `lingerMs`: a client whose routing still names it is told where
   * its session went (`Moved`) rather than refused, and goes straight there.
   */
  async close(lingerMs = 0): Promise<void> {
    this.draining = true;
    if (lingerMs > 0 && this.movedTo.size > 0) await sleep(lingerMs);
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}
