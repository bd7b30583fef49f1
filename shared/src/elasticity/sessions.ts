import { z } from 'zod';
import { FleetError } from '../core/errors';

/** A player session as a cell holds it. Ids are opaque and survive hand-offs. */
export const SessionSchema = z.strictObject({
  id: z.string().min(1).max(80),
  x: z.number().int(),
  y: z.number().int(),
  joinedAt: z.string(),
  /** Free-form game state carried across hand-offs. */
  state: z.record(z.string(), z.unknown()).default({}),
});
export type Session = z.infer<typeof SessionSchema>;

export const JoinRequestSchema = z.strictObject({
  id: z.string().min(1).max(80).optional(),
  x: z.number().int(),
  y: z.number().int(),
  state: z.record(z.string(), z.unknown()).optional(),
});
export const MoveRequestSchema = z.strictObject({ x: z.number().int(), y: z.number().int() });

/**
 * Where a cell keeps its sessions (GH-023): in memory, optionally checkpointed to a
 * durable store behind {@link SessionCheckpoint} so a crashed cell's replacement
 * restores them.
 */
export interface SessionStore {
  get(id: string): Promise<Session | undefined>;
  put(session: Session): Promise<void>;
  delete(id: string): Promise<boolean>;
  list(): Promise<Session[]>;
  count(): Promise<number>;
  /** Resolves once every change made before the call is durable (a no-op for memory). */
  flush(): Promise<void>;
}

/**
 * The durable copy of one cell's sessions, fenced by incarnation: once incarnation N
 * has claimed it, writes by any incarnation below N fail with FAILED_PRECONDITION
 * (reason `Fenced`), so a cell presumed dead that is in fact alive cannot overwrite
 * what its replacement restored.
 */
export interface SessionCheckpoint {
  /** Takes the checkpoint over for this incarnation and returns what it holds. Idempotent. */
  claim(): Promise<Session[]>;
  /** Applies one batch atomically. */
  write(batch: { put: readonly Session[]; delete: readonly string[] }): Promise<void>;
  close(): Promise<void>;
}

/** What a fenced write or claim fails with. */
export function fencedError(scope: string, incarnation: number, holder: number): FleetError {
  return new FleetError(
    'FAILED_PRECONDITION',
    `session checkpoint ${scope} belongs to incarnation ${holder}; incarnation ${incarnation} is fenced off`,
    { details: { reason: 'Fenced', holder, incarnation } },
  );
}

export class MemorySessionStore implements SessionStore {
  private readonly sessions = new Map<string, Session>();
  async get(id: string): Promise<Session | undefined> {
    const s = this.sessions.get(id);
    return s ? structuredClone(s) : undefined;
  }
  async put(session: Session): Promise<void> {
    this.sessions.set(session.id, structuredClone(session));
  }
  async delete(id: string): Promise<boolean> {
    return this.sessions.delete(id);
  }
  async list(): Promise<Session[]> {
    return [...this.sessions.values()].map((s) => structuredClone(s));
  }
  async count(): Promise<number> {
    return this.sessions.size;
  }
  async flush(): Promise<void> {
    // Nothing is durable; nothing to wait for.
  }
}

/** Header every session request carries: the routing epoch the client routed with. */
export const ROUTING_EPOCH_HEADER = 'x-routing-epoch';

/** Why a cell refused a session request (in `error.details.reason`); clients re-route on all but OutsideRegion. */
export const CellRefusalSchema = z.enum(['StaleEpoch', 'Moved', 'OutsideRegion', 'Draining']);
export type CellRefusal = z.infer<typeof CellRefusalSchema>;

export const HandoffTargetSchema = z.strictObject({
  cell: z.string().min(1),
  boundary: z.strictObject({
    x: z.number().int(),
    y: z.number().int(),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
  }),
  endpoint: z.string().url(),
});
export type HandoffTarget = z.infer<typeof HandoffTargetSchema>;

/** `POST /v1/handoff` on a cell: move every session to the target that owns its position. */
export const HandoffRequestSchema = z.strictObject({
  epoch: z.number().int().positive(),
  targets: z.array(HandoffTargetSchema).min(1),
});
export type HandoffRequest = z.infer<typeof HandoffRequestSchema>;

export const HandoffResultSchema = z.object({
  /** Sessions this cell has handed over in total (so a retried hand-off reports the same number). */
  moved: z.number().int().nonnegative(),
  remaining: z.number().int().nonnegative(),
  byTarget: z.record(z.string(), z.number().int().nonnegative()),
});
export type HandoffResult = z.infer<typeof HandoffResultSchema>;

/** `POST /v1/sessions:import` on a cell: sessions arriving in a hand-off, ids kept. */
export const ImportRequestSchema = z.strictObject({
  epoch: z.number().int().positive(),
  sessions: z.array(SessionSchema).max(10_000),
});
