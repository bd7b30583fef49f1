import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import {
  HandoffResultSchema,
  type CellRunSpec,
  type CellRuntimeStatus,
  type Driver,
  type DriverEvent,
  type HandoffRequest,
  type HandoffResult,
} from '@fleetforge/shared';
import type { CellIpcMessage } from '../cell/main';
import { cellEnv } from './cell-env';

interface Running {
  spec: CellRunSpec;
  child: ChildProcess;
  phase: CellRuntimeStatus['phase'];
  endpoint: string | null;
  stopRequested: string | null;
  exited: Promise<void>;
}

export interface ProcessDriverOptions {
  /** Path of the compiled cell entry point. */
  cellMain?: string;
  sampleMs?: number;
  /** Grace period between SIGTERM and SIGKILL. */
  stopGraceMs?: number;
  /** Extra environment for cells (the test switch that keeps a child from becoming ready lives here later). */
  env?: Record<string, string>;
}

const key = (world: string, cell: string) => `${world}/${cell}`;

/**
 * Runs each cell as a real OS process on a loopback port. Readiness is the cell's
 * own `/readyz` answering 200; an exit the driver did not ask for is reported as
 * such, so the control plane can tell a crash from a stop.
 */
export class ProcessDriver implements Driver {
  readonly name = 'process';
  private readonly cells = new Map<string, Running>();
  private readonly listeners: Array<(e: DriverEvent) => void> = [];
  private readonly cellMain: string;

  constructor(private readonly opts: ProcessDriverOptions = {}) {
    this.cellMain = opts.cellMain ?? join(__dirname, '..', 'cell', 'main.js');
  }

  private emit(e: DriverEvent): void {
    for (const l of this.listeners) l(e);
  }

  onEvent(listener: (event: DriverEvent) => void): void {
    this.listeners.push(listener);
  }

  list(): CellRuntimeStatus[] {
    return [...this.cells.values()].map((r) => ({
      world: r.spec.world,
      cell: r.spec.cell,
      incarnation: r.spec.incarnation,
      phase: r.phase,
      endpoint: r.endpoint,
    }));
  }

  /** Pids of running cells (tests check that none outlive a delete). */
  pids(): number[] {
    return [...this.cells.values()].map((r) => r.child.pid).filter((p): p is number => p !== undefined);
  }

  async start(spec: CellRunSpec): Promise<void> {
    const k = key(spec.world, spec.cell);
    const current = this.cells.get(k);
    if (current) {
      if (current.spec.incarnation > spec.incarnation) return; // stale command
      if (current.spec.incarnation === spec.incarnation && !current.stopRequested) {
        // Idempotent: say again what is true now.
        if (current.phase === 'ready' && current.endpoint) {
          this.emit({ kind: 'ready', ...this.ref(spec), endpoint: current.endpoint });
        }
        return;
      }
      await this.stopRunning(current, 'replaced by a newer incarnation');
    }
    const child = fork(this.cellMain, [], {
      env: {
        ...process.env,
        ...this.opts.env,
        ...cellEnv(spec, this.opts.sampleMs),
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    let resolveExit!: () => void;
    const running: Running = {
      spec,
      child,
      phase: 'starting',
      endpoint: null,
      stopRequested: null,
      exited: new Promise<void>((r) => (resolveExit = r)),
    };
    this.cells.set(k, running);
    child.on('message', (m: CellIpcMessage) => void this.onMessage(running, m));
    child.on('exit', (code, signal) => {
      if (this.cells.get(k) === running) this.cells.delete(k);
      this.emit({
        kind: 'exited',
        ...this.ref(spec),
        exitCode: code,
        requested: running.stopRequested !== null,
        reason: running.stopRequested ?? (signal ? `killed by ${signal}` : `exited with code ${code}`),
      });
      resolveExit();
    });
    child.on('error', () => {
      // 'exit' follows and reports it.
    });
    this.emit({ kind: 'started', ...this.ref(spec) });
  }

  private ref(spec: CellRunSpec): { world: string; cell: string; incarnation: number; correlationId: string } {
    return { world: spec.world, cell: spec.cell, incarnation: spec.incarnation, correlationId: spec.correlationId };
  }

  private async onMessage(r: Running, m: CellIpcMessage): Promise<void> {
    if (m.type === 'listening') {
      r.endpoint = m.endpoint;
      if (await this.probe(m.endpoint)) {
        if (r.stopRequested) return;
        r.phase = 'ready';
        this.emit({ kind: 'ready', ...this.ref(r.spec), endpoint: m.endpoint });
      }
    } else if (m.type === 'sample') {
      const { type: _t, ...sample } = m;
      this.emit({ kind: 'sample', world: r.spec.world, cell: r.spec.cell, incarnation: r.spec.incarnation, ...sample });
    }
  }

  /** Readiness is what the cell says on /readyz, checked over the network like a kubelet probe. */
  private async probe(endpoint: string): Promise<boolean> {
    for (let i = 0; i < 50; i++) {
      try {
        const res = await fetch(`${endpoint}/readyz`, { signal: AbortSignal.timeout(1000) });
        if (res.ok) return true;
      } catch {
        // not yet
      }
      await new Promise((r) => setTimeout(r, 20 * Math.min(i + 1, 10)));
    }
    return false;
  }

  async handoff(
    world: string,
    cell: string,
    incarnation: number,
    request: HandoffRequest,
  ): Promise<HandoffResult | undefined> {
    const r = this.cells.get(key(world, cell));
    if (!r?.endpoint || r.spec.incarnation !== incarnation) return undefined;
    const res = await fetch(`${r.endpoint}/v1/handoff`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(request),
      signal: AbortSignal.timeout(30_000),
    });
    if (!res.ok) throw new Error(`hand-off by ${cell} failed: HTTP ${res.status} ${await res.text()}`);
    return HandoffResultSchema.parse(await res.json());
  }

  private async stopRunning(r: Running, reason: string): Promise<void> {
    r.stopRequested ??= reason;
    r.phase = 'stopping';
    if (r.child.exitCode === null && r.child.signalCode === null) {
      r.child.kill('SIGTERM');
      const timer = setTimeout(() => r.child.kill('SIGKILL'), this.opts.stopGraceMs ?? 3000);
      await r.exited;
      clearTimeout(timer);
    }
  }

  async stop(world: string, cell: string, reason: string): Promise<void> {
    const r = this.cells.get(key(world, cell));
    if (!r) return;
    await this.stopRunning(r, reason);
  }

  async close(): Promise<void> {
    await Promise.all([...this.cells.values()].map((r) => this.stopRunning(r, 'agent shutting down')));
  }
}
