import { z } from 'zod';

/**
 * `POST /v1/assign` to a warm cell (started with FF_WARM=1): the environment that makes
 * it one particular cell, the same keys a cold start gets in its process environment
 * (drivers/cell-env.ts). Answered 202 once accepted; the cell then opens its session
 * store and listens on its own port, and writes FF_ENDPOINT_FILE as a cold start does.
 */
export const AssignRequestSchema = z.strictObject({
  env: z.record(z.string().regex(/^FF_[A-Z0-9_]+$/, 'an FF_ variable'), z.string()),
});
export type AssignRequest = z.infer<typeof AssignRequestSchema>;

/** A warm cell's `GET /healthz`: it is idle, and which process it is (a reused port answers otherwise). */
export const WarmHealthSchema = z.object({ warm: z.literal(true), pid: z.number().int().positive() });

/** What a warm cell writes to FF_ENDPOINT_FILE while it waits: where to send its assignment. */
export const WarmRecordSchema = z.strictObject({
  pid: z.number().int().positive(),
  endpoint: z.string().url(),
  warm: z.literal(true),
});
