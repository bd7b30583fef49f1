/**
 * Entry point of a cell process (local process driver; the same binary runs in a
 * Pod). Configuration comes from the environment, validated. The agent reads load
 * over `GET /v1/sample`, whichever driver runs the cell. A cell outlives its agent
 * on purpose (an agent restart must not cost sessions): it stops on SIGTERM, after
 * flushing its session checkpoint.
 *
 * With FF_WARM=1 it starts as a warm cell: loaded, listening on loopback, owning
 * nothing, until one `POST /v1/assign` gives it the environment of a cell (./assign).
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { renameSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { Counter, Histogram } from 'prom-client';
import {
  CapacitySchema,
  RectSchema,
  containsPoint,
  parseOrThrow,
  sleep,
  toFleetError,
  type Rect,
} from '@fleetforge/shared';
import { AssignRequestSchema } from './assign';
import { CellRuntime } from './runtime';
import { WriteBehindSessionStore } from './write-behind-store';

const json = <T extends z.ZodType>(schema: T) =>
  z
    .string()
    .transform((s, ctx) => {
      try {
        return JSON.parse(s) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'not JSON' });
        return z.NEVER;
      }
    })
    .pipe(schema);

const CellEnvSchema = z.object({
  FF_WORLD: z.string().min(1),
  FF_CELL: z.string().min(1),
  FF_INCARNATION: z.coerce.number().int().positive(),
  FF_BOUNDARY: json(RectSchema),
  FF_CAPACITY: json(CapacitySchema),
  FF_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  /** Loopback for local processes; the container image sets 0.0.0.0 so the pod's IP reaches it. */
  FF_HOST: z.string().min(1).default('127.0.0.1'),
  FF_SAMPLE_MS: z.coerce.number().int().positive().default(1000),
  FF_EPOCH: z.coerce.number().int().positive().default(1),
  FF_NEVER_READY: z.enum(['0', '1']).default('0'),
  /** The process driver's record of where this cell listens, written once it does. */
  FF_ENDPOINT_FILE: z.string().min(1).optional(),
  /** Where sessions are checkpointed; absent, they live in this process only. */
  FF_REDIS_URL: z.string().min(1).optional(),
  /** The world's generation: a world deleted and applied again does not restore old sessions. */
  FF_WORLD_GENERATION: z.string().min(1).default('0'),
  /** Checkpoint interval: the most a crash of this cell can lose (moves, joins, leaves). */
  FF_CHECKPOINT_MS: z.coerce.number().int().positive().default(100),
  /** How long to keep trying to reach the checkpoint at start before giving up (the agent restarts the cell). */
  FF_CHECKPOINT_START_TIMEOUT_MS: z.coerce.number().int().positive().default(15_000),
  /**
   * How long a cell that handed its sessions off keeps answering after SIGTERM: clients
   * still routed here get `Moved` (the new owner) instead of a refused connection.
   * Below the process driver's 3 s SIGKILL grace.
   */
  FF_DRAIN_LINGER_MS: z.coerce.number().int().nonnegative().max(2500).default(1500),
});
type CellEnv = z.infer<typeof CellEnvSchema>;

const log = (severity: string, message: string, data: Record<string, unknown> = {}) =>
  process.stderr.write(`${JSON.stringify({ severity, time: new Date().toISOString(), message, ...data })}\n`);

/**
 * Opens the durable session store and restores what the previous incarnation of this
 * cell left, keeping sessions inside `boundary`. Retries while Redis is unreachable:
 * serving empty would silently lose the sessions a crash was supposed to keep.
 */
async function openCheckpointedStore(env: CellEnv & { FF_REDIS_URL: string }, boundary: Rect) {
  // Loaded only when used: the Redis client is a good share of a cell's start-up time and memory.
  const { RedisSessionCheckpoint } = await import('./redis-checkpoint.js');
  const checkpoint = RedisSessionCheckpoint.connect(env.FF_REDIS_URL, {
    world: env.FF_WORLD,
    generation: env.FF_WORLD_GENERATION,
    cell: env.FF_CELL,
    incarnation: env.FF_INCARNATION,
  });
  const flushes = new Counter({
    name: 'session_checkpoint_flushes_total',
    help: 'Session checkpoint writes, by result.',
    labelNames: ['result'],
    registers: [],
  });
  const flushSeconds = new Histogram({
    name: 'session_checkpoint_flush_seconds',
    help: 'Time to write one checkpoint batch.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [],
  });
  let failing = false;
  const store = new WriteBehindSessionStore(checkpoint, {
    flushMs: env.FF_CHECKPOINT_MS,
    onFlush: (_n, ms) => {
      flushes.inc({ result: 'ok' });
      flushSeconds.observe(ms / 1000);
      if (failing) log('INFO', 'session checkpoint reachable again');
      failing = false;
    },
    onError: (err) => {
      flushes.inc({ result: 'error' });
      if (!failing)
        log('WARNING', 'session checkpoint write failed; changes are kept and retried', { err: err.message });
      failing = true;
    },
    onFenced: (err) => {
      // A newer incarnation owns this cell's sessions: this process is a zombie and must not serve.
      log('ERROR', 'fenced off by a newer incarnation; exiting', { err: err.message });
      process.exit(3);
    },
  });
  const deadline = Date.now() + env.FF_CHECKPOINT_START_TIMEOUT_MS;
  for (;;) {
    try {
      const r = await store.restore((s) => containsPoint(boundary, s.x, s.y));
      return { store, restored: r.restored, dropped: r.dropped, metrics: [flushes, flushSeconds] };
    } catch (err) {
      const e = toFleetError(err);
      if (e.details.reason === 'Fenced' || Date.now() > deadline) throw e;
      await sleep(250);
    }
  }
}

/** Writes a record atomically: a reader sees the whole of it or nothing. */
function writeRecord(file: string, record: Record<string, unknown>): void {
  writeFileSync(`${file}.tmp`, JSON.stringify(record));
  renameSync(`${file}.tmp`, file);
}

/** Runs as the cell `env` describes until SIGTERM. */
async function serve(env: CellEnv): Promise<void> {
  const durable = env.FF_REDIS_URL
    ? await openCheckpointedStore({ ...env, FF_REDIS_URL: env.FF_REDIS_URL }, env.FF_BOUNDARY)
    : undefined;
  if (durable && durable.restored + durable.dropped > 0) {
    log('INFO', 'sessions restored from the checkpoint', { restored: durable.restored, dropped: durable.dropped });
  }
  const cell = new CellRuntime({
    world: env.FF_WORLD,
    cell: env.FF_CELL,
    incarnation: env.FF_INCARNATION,
    boundary: env.FF_BOUNDARY,
    capacitySessions: env.FF_CAPACITY.sessions,
    port: env.FF_PORT,
    host: env.FF_HOST,
    epoch: env.FF_EPOCH,
    neverReady: env.FF_NEVER_READY === '1',
    ...(durable ? { store: durable.store, restored: durable.restored } : {}),
  });
  for (const m of durable?.metrics ?? []) cell.registry.registerMetric(m);
  const endpoint = await cell.listen();
  if (env.FF_ENDPOINT_FILE) writeRecord(env.FF_ENDPOINT_FILE, { pid: process.pid, endpoint });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void cell
      .close(env.FF_DRAIN_LINGER_MS)
      .then(() => durable?.store.close())
      .finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

const MAX_ASSIGN_BYTES = 64 * 1024;

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > MAX_ASSIGN_BYTES) throw new Error(`assignment larger than ${MAX_ASSIGN_BYTES} bytes`);
  }
  return body;
}

/**
 * A warm cell: its code loaded, nothing owned. It waits on loopback for the one
 * assignment that makes it a cell, so a split's children cost no process start.
 * A bad assignment is answered 400 (naming the variable) and it stays warm.
 */
async function waitForAssignment(): Promise<void> {
  // Loaded now rather than when assigned: the Redis client is much of a cold start.
  if (process.env.FF_REDIS_URL) await import('./redis-checkpoint.js');
  const base = { ...process.env };
  delete base.FF_WARM;
  let assigned = false;
  const server = createServer((req, res) => {
    const reply = (status: number, body: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.method === 'GET' && req.url === '/healthz') return reply(200, { ok: true, warm: true, pid: process.pid });
    if (req.method !== 'POST' || req.url !== '/v1/assign') return reply(404, { error: 'a warm cell: POST /v1/assign' });
    if (assigned) return reply(409, { error: 'already assigned' });
    readBody(req)
      .then((text) => {
        if (assigned) return reply(409, { error: 'already assigned' });
        const request = parseOrThrow(AssignRequestSchema, JSON.parse(text), 'assignment');
        const env = parseOrThrow(CellEnvSchema, { ...base, ...request.env }, 'assigned cell environment');
        assigned = true;
        reply(202, { pid: process.pid, cell: env.FF_CELL, incarnation: env.FF_INCARNATION });
        server.close();
        process.removeAllListeners('SIGTERM');
        process.removeAllListeners('SIGINT');
        log('INFO', 'warm cell assigned', { world: env.FF_WORLD, cell: env.FF_CELL, incarnation: env.FF_INCARNATION });
        serve(env).catch(fail);
      })
      .catch((err: unknown) => {
        const e = toFleetError(err);
        reply(e.httpStatus === 500 ? 400 : e.httpStatus, e.toJSON());
      });
  });
  const host = base.FF_HOST ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const endpoint = `http://${host}:${(server.address() as AddressInfo).port}`;
  if (base.FF_ENDPOINT_FILE) writeRecord(base.FF_ENDPOINT_FILE, { pid: process.pid, endpoint, warm: true });
  const exit = () => process.exit(0);
  process.on('SIGTERM', exit);
  process.on('SIGINT', exit);
}

async function main(): Promise<void> {
  if (process.env.FF_WARM === '1') return waitForAssignment();
  await serve(parseOrThrow(CellEnvSchema, process.env, 'cell environment'));
}

function fail(err: unknown): void {
  log('ERROR', String(err));
  process.exit(1);
}

main().catch(fail);
