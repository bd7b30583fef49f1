import { containsPoint } from '../geometry';
import type { CellRunSpec, CellRuntimeStatus, Driver, DriverEvent } from '../ports';
import type { HandoffRequest, HandoffResult } from '../sessions';

/** A Driver that runs nothing: cells become ready on the next tick, and tests can crash them. */
export class FakeDriver implements Driver {
  readonly name = 'fake';
  private readonly cells = new Map<string, CellRuntimeStatus & { spec: CellRunSpec }>();
  private readonly listeners: Array<(e: DriverEvent) => void> = [];
  readonly starts: CellRunSpec[] = [];
  /** Session positions each fake cell holds; tests put sessions here and hand-offs move them. */
  readonly sessions = new Map<string, Array<{ x: number; y: number }>>();
  private readonly handedOff = new Map<string, number>();

  private emit(e: DriverEvent): void {
    for (const l of this.listeners) l(e);
  }

  async start(spec: CellRunSpec): Promise<void> {
    this.starts.push(spec);
    const key = `${spec.world}/${spec.cell}`;
    const current = this.cells.get(key);
    const endpoint = `http://fake.invalid/${key}`;
    if (current && current.incarnation === spec.incarnation) {
      if (current.phase === 'ready') this.emit({ ...this.ref(spec), kind: 'ready', endpoint });
      return;
    }
    this.cells.set(key, { ...this.ref(spec), phase: 'starting', endpoint: null, spec });
    this.emit({ ...this.ref(spec), kind: 'started' });
    if (spec.neverReady) return;
    setTimeout(() => {
      const c = this.cells.get(key);
      if (!c || c.incarnation !== spec.incarnation) return;
      c.phase = 'ready';
      c.endpoint = endpoint;
      this.emit({ ...this.ref(spec), kind: 'ready', endpoint });
    }, 0);
  }

  private ref(spec: CellRunSpec): { world: string; cell: string; incarnation: number; correlationId: string } {
    return { world: spec.world, cell: spec.cell, incarnation: spec.incarnation, correlationId: spec.correlationId };
  }

  async stop(world: string, cell: string, reason: string): Promise<void> {
    const c = this.cells.get(`${world}/${cell}`);
    if (!c) return;
    this.cells.delete(`${world}/${cell}`);
    this.emit({ ...this.ref(c.spec), kind: 'exited', exitCode: 0, requested: true, reason });
  }

  /** Simulates a crash: the cell disappears and an unrequested exit is reported. */
  crash(world: string, cell: string): void {
    const c = this.cells.get(`${world}/${cell}`);
    if (!c) return;
    this.cells.delete(`${world}/${cell}`);
    this.emit({ ...this.ref(c.spec), kind: 'exited', exitCode: 137, requested: false, reason: 'killed' });
  }

  async handoff(
    world: string,
    cell: string,
    incarnation: number,
    request: HandoffRequest,
  ): Promise<HandoffResult | undefined> {
    const key = `${world}/${cell}`;
    const c = this.cells.get(key);
    if (!c || c.incarnation !== incarnation) return undefined;
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
  }

  list(): CellRuntimeStatus[] {
    return [...this.cells.values()].map(({ spec: _spec, ...status }) => status);
  }

  onEvent(listener: (event: DriverEvent) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    for (const c of [...this.cells.values()]) await this.stop(c.world, c.cell, 'driver closed');
  }
}
