/**
 * Entry point of a cell process (local process driver; the same binary runs in a
 * Pod). Configuration comes from the environment, validated; a parent process
 * hears `listening` and load samples over IPC, and a pod's driver asks
 * `GET /v1/sample` instead. If the parent goes away the cell exits too: a dead
 * agent must not leave orphan cells behind.
 */
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
});

export type CellIpcMessage =
  | { type: 'listening'; endpoint: string }
  | {
      type: 'sample';
      at: string;
      sessions: number;
      cpuMillis: number;
      memoryMiB: number;
      hist: { x: number[]; y: number[] };
    };

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
  const tell = (m: CellIpcMessage): void => {
    if (process.connected) process.send?.(m);
  };
  tell({ type: 'listening', endpoint });
  // Only with an IPC parent: a sample also restarts the CPU window, which a pod's driver owns over HTTP.
  const timer = process.send
    ? setInterval(() => {
        void cell.sample().then((s) => tell({ type: 'sample', ...s }));
      }, env.FF_SAMPLE_MS)
    : undefined;
  const stop = (code: number) => {
    clearInterval(timer);
    void cell.close().finally(() => process.exit(code));
  };
  process.on('SIGTERM', () => stop(0));
  process.on('SIGINT', () => stop(0));
  process.on('disconnect', () => stop(0));
}

main().catch((err: unknown) => {
  process.stderr.write(`${JSON.stringify({ severity: 'ERROR', message: String(err) })}\n`);
  process.exit(1);
});
