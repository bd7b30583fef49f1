import { containsPoint } from '../world/geometry';
import { compareGenerations, knownGeneration } from '../world/generation';
import type {
  CellClient,
  CellRunSpec,
  CellRuntimeStatus,
  CellSampleOut,
  Driver,
  DriverEvent,
} from '../ports/interfaces';
import type { HandoffRequest, HandoffResult } from '../elasticity/sessions';

const PREFIX = 'http://fake.invalid/';

/**
 * A Driver that runs nothing: cells become ready on the next tick, and tests can
 * crash them or make them hang. Its `client` answers for the fake endpoints the way
 * a cell's HTTP API would (samples, health, hand-offs of the positions in `sessions`).
 */
export class FakeDriver implements Driver {
  readonly name = 'fake';
  private readonly cells = new Map<string, CellRuntimeStatus & { spec: CellRunSpec }>();
  private readonly listeners: Array<(e: DriverEvent) => void> = [];
  readonly starts: CellRunSpec[] = [];
  /** Session positions each fake cell holds; tests put sessions here and hand-offs move them. */
  readonly sessions = new Map<string, Array<{ x: number; y: number }>>();
  private readonly handedOff = new Map<string, number>();
  /** Cells whose health probe fails (a hung process). */
  readonly hung = new Set<string>();
  readonly kills: Array<{ world: string; cell: string; incarnation: number; reason: string }> = [];
  readonly stops: Array<{ world: string; cell: string; reason: string }> = [];
  /** How long a cell takes to become ready, by cell id (default: the next tick). */
  readonly readyDelayMs = new Map<string, number>();
  /** How long a cell's hand-off takes, by cell id (default: at once). */
  readonly handoffDelayMs = new Map<string, number>();

  /** The warm pool size last asked for; the fake's pool is always full. */
  warmTarget = 0;

  setWarmTarget(n: number): void {
    this.warmTarget = n;
  }

  warmCount(): number {
    return this.warmTarget;
  }

  private emit(e: DriverEvent): void {
    for (const l of this.listeners) l(e);
  }

  async adopt(): Promise<void> {
    // Nothing outlives a fake driver.
  }

  async start(spec: CellRunSpec): Promise<void> {
    this.starts.push(spec);
    const key = `${spec.world}/${spec.cell}`;
    const current = this.cells.get(key);
    const endpoint = `${PREFIX}${key}`;
    // As the real drivers: a start of a deleted world is ignored; a cell of one is replaced, silently.
    const generation = compareGenerations(current?.generation, spec.generation);
    if (current && generation > 0) return;
    if (current && generation === 0 && current.incarnation === spec.incarnation) {
      if (current.phase === 'ready') this.emit({ ...this.ref(spec), kind: 'ready', endpoint });
      return;
    }
    this.cells.set(key, {
      ...this.ref(spec),
      phase: 'starting',
      endpoint: null,
      generation: knownGeneration(spec.generation),
      spec,
    });
    this.emit({ ...this.ref(spec), kind: 'started' });
    if (spec.neverReady) return;
    setTimeout(
      () => {
        const c = this.cells.get(key);
        if (!c || c.incarnation !== spec.incarnation) return;
        c.phase = 'ready';
        c.endpoint = endpoint;
        this.emit({ ...this.ref(spec), kind: 'ready', endpoint });
      },
      this.readyDelayMs.get(spec.cell) ?? 0,
    );
  }

  private ref(spec: CellRunSpec): { world: string; cell: string; incarnation: number; correlationId: string } {
    return { world: spec.world, cell: spec.cell, incarnation: spec.incarnation, correlationId: spec.correlationId };
  }

  async stop(world: string, cell: string, reason: string): Promise<void> {
    const c = this.cells.get(`${world}/${cell}`);
    if (!c) return;
    this.stops.push({ world, cell, reason });
    this.cells.delete(`${world}/${cell}`);
    this.emit({ ...this.ref(c.spec), kind: 'exited', exitCode: 0, requested: true, reason });
  }

  async kill(world: string, cell: string, incarnation: number, reason: string): Promise<void> {
    const c = this.cells.get(`${world}/${cell}`);
    if (!c || c.incarnation !== incarnation) return;
    this.kills.push({ world, cell, incarnation, reason });
    this.cells.delete(`${world}/${cell}`);
    this.emit({ ...this.ref(c.spec), kind: 'exited', exitCode: 137, requested: false, reason });
  }

  /** Simulates a crash: the cell disappears and an unrequested exit is reported. */
  crash(world: string, cell: string): void {
    const c = this.cells.get(`${world}/${cell}`);
    if (!c) return;
    this.cells.delete(`${world}/${cell}`);
    this.emit({ ...this.ref(c.spec), kind: 'exited', exitCode: 137, requested: false, reason: 'killed' });
  }

  /** Simulates a cell that vanished without anyone seeing it go (no event at all). */
  vanish(world: string, cell: string): void {
    this.cells.delete(`${world}/${cell}`);
  }

  private keyOf(endpoint: string): string {
    if (!endpoint.startsWith(PREFIX)) throw new Error(`not a fake endpoint: ${endpoint}`);
    return endpoint.slice(PREFIX.length);
  }

  /** Answers for the fake endpoints as a cell would. */
  readonly client: CellClient = {
    sample: async (endpoint: string): Promise<CellSampleOut> => {
      const key = this.keyOf(endpoint);
      if (!this.cells.has(key)) throw new Error(`connection refused: ${endpoint}`);
      return {
        at: new Date().toISOString(),
        sessions: this.sessions.get(key)?.length ?? 0,
        cpuMillis: 1,
        memoryMiB: 1,
      };
    },
    healthy: async (endpoint: string): Promise<boolean> => {
      const key = this.keyOf(endpoint);
      return this.cells.has(key) && !this.hung.has(key);
    },
    handoff: async (endpoint: string, request: HandoffRequest): Promise<HandoffResult> => {
      const key = this.keyOf(endpoint);
      if (!this.cells.has(key)) throw new Error(`connection refused: ${endpoint}`);
      const [world, cell] = key.split('/');
      const delay = this.handoffDelayMs.get(cell!);
      if (delay) await new Promise((resolve) => setTimeout(resolve, delay));
      const byTarget: Record<string, number> = {};
      for (const s of this.sessions.get(key) ?? []) {
        const t = request.targets.find((t) => containsPoint(t.boundary, s.x, s.y));
        if (!t) throw new Error(`no target owns ${s.x},${s.y}`);
        const tk = `${world}/${t.cell}`;
        this.sessions.set(tk, [...(this.sessions.get(tk) ?? []), s]);
        byTarget[t.cell] = (byTarget[t.cell] ?? 0) + 1;
      }
      const moved = (this.handedOff.get(key) ?? 0) + (this.sessions.get(key)?.length ?? 0);
      this.handedOff.set(key, moved);
      this.sessions.set(key, []);
      return { moved, remaining: 0, byTarget };
    },
  };

  list(): CellRuntimeStatus[] {
    return [...this.cells.values()].map(({ spec: _spec, ...status }) => status);
  }

  onEvent(listener: (event: DriverEvent) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    // Cells outlive their driver.
  }

  async stopAll(reason: string): Promise<void> {
    for (const c of [...this.cells.values()]) await this.stop(c.world, c.cell, reason);
  }
}
