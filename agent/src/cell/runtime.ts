import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry } from 'prom-client';
import {
  FleetError,
  JoinRequestSchema,
  MemorySessionStore,
  MoveRequestSchema,
  containsPoint,
  formatRect,
  parseOrThrow,
  toFleetError,
  type Rect,
  type SessionStore,
} from '@fleetforge/shared';

export interface CellRuntimeOptions {
  world: string;
  cell: string;
  incarnation: number;
  boundary: Rect;
  capacitySessions: number;
  host?: string;
  port?: number;
  store?: SessionStore;
}

export interface LoadSampleOut {
  at: string;
  sessions: number;
  cpuMillis: number;
  memoryMiB: number;
}

const MAX_BODY = 64 * 1024;

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
  private readonly registry = new Registry();
  private readonly sessionsGauge: Gauge;
  private readonly joins: Counter;
  private readonly rejects: Counter;
  private lastCpu = process.cpuUsage();
  private lastCpuAt = performance.now();
  private seq = 0;

  constructor(readonly opts: CellRuntimeOptions) {
    this.store = opts.store ?? new MemorySessionStore();
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
      return this.ready && !this.draining
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
        pid: process.pid,
      });
    }
    if (parts[0] === 'v1' && parts[1] === 'sessions') {
      if (parts.length === 2 && method === 'GET') return send(res, 200, { items: await this.store.list() });
      if (parts.length === 2 && method === 'POST') return this.join(req, res);
      const id = decodeURIComponent(parts[2] ?? '');
      if (parts.length === 3 && method === 'GET') {
        const s = await this.store.get(id);
        return s ? send(res, 200, s) : send(res, 404, new FleetError('NOT_FOUND', `no session ${id}`).toJSON());
      }
      if (parts.length === 3 && method === 'DELETE') {
        const gone = await this.store.delete(id);
        return gone ? send(res, 204, '') : send(res, 404, new FleetError('NOT_FOUND', `no session ${id}`).toJSON());
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
        details: { boundary: this.opts.boundary },
      },
    );
  }

  private async join(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.draining) throw new FleetError('UNAVAILABLE', 'cell is draining');
    const body = parseOrThrow(JoinRequestSchema, await readJson(req), 'join request');
    if (!containsPoint(this.opts.boundary, body.x, body.y)) {
      this.rejects.inc({ reason: 'outside' });
      throw this.outside(body.x, body.y);
    }
    const id = body.id ?? `${this.opts.cell}-${process.pid}-${++this.seq}`;
    const existing = await this.store.get(id);
    if (existing) return send(res, 200, existing);
    const session = { id, x: body.x, y: body.y, joinedAt: new Date().toISOString(), state: body.state ?? {} };
    await this.store.put(session);
    this.joins.inc();
    send(res, 201, session);
  }

  private async move(id: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = parseOrThrow(MoveRequestSchema, await readJson(req), 'move request');
    const s = await this.store.get(id);
    if (!s) throw new FleetError('NOT_FOUND', `no session ${id}`);
    if (!containsPoint(this.opts.boundary, body.x, body.y)) {
      this.rejects.inc({ reason: 'outside' });
      throw this.outside(body.x, body.y);
    }
    const moved = { ...s, x: body.x, y: body.y };
    await this.store.put(moved);
    send(res, 200, moved);
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
    };
  }

  /** Stops taking sessions, then closes the port. */
  async close(): Promise<void> {
    this.draining = true;
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}
