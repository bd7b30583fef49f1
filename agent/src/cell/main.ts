/**
 * Entry point of a cell process (local process driver; the same binary runs in a
 * Pod). Configuration comes from the environment, validated. The agent reads load
 * over `GET /v1/sample`, whichever driver runs the cell. A cell outlives its agent
 * on purpose (an agent restart must not cost sessions): it stops on SIGTERM, after
 * flushing its session checkpoint.
 */
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
});
type CellEnv = z.infer<typeof CellEnvSchema>;

const log = (severity: string, message: string, data: Record<string, unknown> = {}) =>
  process.stderr.write(`${JSON.stringify({ severity, message, ...data })}\n`);

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

async function main(): Promise<void> {
  const env = parseOrThrow(CellEnvSchema, process.env, 'cell environment');
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
  if (env.FF_ENDPOINT_FILE) {
    // Atomically: a reader sees the whole record or none.
    writeFileSync(`${env.FF_ENDPOINT_FILE}.tmp`, JSON.stringify({ pid: process.pid, endpoint }));
    renameSync(`${env.FF_ENDPOINT_FILE}.tmp`, env.FF_ENDPOINT_FILE);
  }
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void cell
      .close()
      .then(() => durable?.store.close())
      .finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: unknown) => {
  log('ERROR', String(err));
  process.exit(1);
});
