import { FleetError } from '../core/errors';
import { fencedError, type Session, type SessionCheckpoint } from '../elasticity/sessions';

/** Shared backing for {@link MemorySessionCheckpoint}s: one per "server". */
export class MemoryCheckpointServer {
  readonly scopes = new Map<string, { fence: number; sessions: Map<string, Session> }>();
  /** Test switch: every call fails as if the server were unreachable. */
  down = false;
  writes = 0;

  checkpoint(scope: string, incarnation: number): MemorySessionCheckpoint {
    return new MemorySessionCheckpoint(this, scope, incarnation);
  }
}

/** In-memory {@link SessionCheckpoint} with the same fencing rules as the Redis adapter. */
export class MemorySessionCheckpoint implements SessionCheckpoint {
  constructor(
    private readonly server: MemoryCheckpointServer,
    private readonly scope: string,
    private readonly incarnation: number,
  ) {}

  private entry() {
    if (this.server.down) throw new FleetError('UNAVAILABLE', 'checkpoint server unreachable', { retryable: true });
    let e = this.server.scopes.get(this.scope);
    if (!e) this.server.scopes.set(this.scope, (e = { fence: 0, sessions: new Map() }));
    if (e.fence > this.incarnation) throw fencedError(this.scope, this.incarnation, e.fence);
    e.fence = this.incarnation;
    return e;
  }

  async claim(): Promise<Session[]> {
    return [...this.entry().sessions.values()].map((s) => structuredClone(s));
  }

  async write(batch: { put: readonly Session[]; delete: readonly string[] }): Promise<void> {
    const e = this.entry();
    this.server.writes += 1;
    for (const id of batch.delete) e.sessions.delete(id);
    for (const s of batch.put) e.sessions.set(s.id, structuredClone(s));
  }

  async close(): Promise<void> {
    // Nothing held open.
  }
}
