/**
 * Entry point of a cell process (local process driver; the same binary runs in a
 * Pod). Configuration comes from the environment, validated. The agent reads load
 * over `GET /v1/sample`, whichever driver runs the cell. A cell outlives its agent
 * on purpose (an agent restart must not cost sessions): it stops on SIGTERM, after
 * flushing its session checkpoint.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { CapacitySchema, RectSchema, parseOrThrow } from '@fleetforge/shared';
import { CellRuntime } from './runtime';

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
});

async function main(): Promise<void> {
  const env = parseOrThrow(CellEnvSchema, process.env, 'cell environment');
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
  });
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
    void cell.close().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`${JSON.stringify({ severity: 'ERROR', message: String(err) })}\n`);
  process.exit(1);
});
