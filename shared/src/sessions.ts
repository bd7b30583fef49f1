import { z } from 'zod';

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
 * Where a cell keeps its sessions (GH-023). Today only in memory; the interface
 * is async so a persistent store (Redis, Firestore) can back it later unchanged.
 */
export interface SessionStore {
  get(id: string): Promise<Session | undefined>;
  put(session: Session): Promise<void>;
  delete(id: string): Promise<boolean>;
  list(): Promise<Session[]>;
  count(): Promise<number>;
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
