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
