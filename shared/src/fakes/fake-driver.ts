import type { CellRunSpec, CellRuntimeStatus, Driver, DriverEvent } from '../ports';

/** A Driver that runs nothing: cells become ready on the next tick, and tests can crash them. */
export class FakeDriver implements Driver {
  readonly name = 'fake';
  private readonly cells = new Map<string, CellRuntimeStatus & { spec: CellRunSpec }>();
  private readonly listeners: Array<(e: DriverEvent) => void> = [];
  readonly starts: CellRunSpec[] = [];

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
