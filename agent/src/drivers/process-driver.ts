import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import {
  TierSchema,
  type CellRunSpec,
  type CellRuntimeStatus,
  type Driver,
  type DriverEvent,
} from '@fleetforge/shared';
import { HttpCellClient } from '../cell-client';
import { cellEnv } from './cell-env';

/**
 * What the driver writes beside each cell it starts (`<stateDir>/cells/<key>.json`),
 * right after the fork: enough for a later agent process to find the cell again.
 */
export const CellRecordSchema = z.strictObject({
  world: z.string().min(1),
  cell: z.string().min(1),
  incarnation: z.number().int().positive(),
  correlationId: z.string().min(1),
  pid: z.number().int().positive(),
  spawnedAt: z.string(),
  /** Whom its usage is billed to (the start command's); records from before tenants have none. */
  tenant: z.string().min(1).nullable().default(null),
  tier: TierSchema.nullable().default(null),
});
export type CellRecord = z.infer<typeof CellRecordSchema>;

/** What the cell itself writes once it listens (`<key>.endpoint.json`, FF_ENDPOINT_FILE). */
export const EndpointRecordSchema = z.strictObject({ pid: z.number().int().positive(), endpoint: z.string().url() });

/** The one cell HTTP client (agent/src/cell-client.ts), here for identity and readiness. */
const cells = new HttpCellClient();

interface Running {
  record: CellRecord;
  /** Our own child; absent for a cell adopted from an earlier agent process. */
  child: ChildProcess | undefined;
  phase: CellRuntimeStatus['phase'];
  endpoint: string | null;
  stopRequested: string | null;
  /** Set when the agent kills it after failed probes: reported as a crash, not a stop. */
  killReason: string | null;
  done: boolean;
  exited: Promise<void>;
  markExited: () => void;
  base: string;
}

export interface ProcessDriverOptions {
  /** Where cell records live. Cells outlive the agent; the next agent finds them here. */
  stateDir: string;
  /** Path of the compiled cell entry point. */
  cellMain?: string;
  sampleMs?: number;
  /** Grace period between SIGTERM and SIGKILL. */
  stopGraceMs?: number;
  /** How often adopted cells (not our children, so no exit event) are checked for being alive. */
  pollMs?: number;
  /** Extra environment for cells. */
  env?: Record<string, string>;
  /** Cells' output, appended (default `<stateDir>/cells.log`). */
  logFile?: string;
}

const key = (world: string, cell: string) => `${world}/${cell}`;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Whether a process with this pid still runs (signal 0 only checks). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Signals a cell's whole process group (it leads one: it is started detached). */
function signalCell(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

function cellsDir(stateDir: string): string {
  return join(stateDir, 'cells');
}

function fileBase(stateDir: string, world: string, cell: string, incarnation: number): string {
  return join(cellsDir(stateDir), `${encodeURIComponent(world)}~${encodeURIComponent(cell)}~${incarnation}`);
}

function readJson<T>(file: string, schema: z.ZodType<T>): T | undefined {
  try {
    return schema.parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch {
    return undefined;
  }
}

/** Every cell record under a state folder, with whether its process still runs. */
export function cellRecords(stateDir: string): Array<CellRecord & { base: string; alive: boolean }> {
  let names: string[];
  try {
    names = readdirSync(cellsDir(stateDir));
  } catch {
    return [];
  }
  const out: Array<CellRecord & { base: string; alive: boolean }> = [];
  for (const n of names) {
    if (!n.endsWith('.json') || n.endsWith('.endpoint.json')) continue;
    const base = join(cellsDir(stateDir), n.slice(0, -'.json'.length));
    const r = readJson(`${base}.json`, CellRecordSchema);
    if (r) out.push({ ...r, base, alive: alive(r.pid) });
  }
  return out;
}

function removeRecord(base: string): void {
  rmSync(`${base}.json`, { force: true });
  rmSync(`${base}.endpoint.json`, { force: true });
}

/**
 * Stops every cell recorded under a state folder and removes the records: what tearing
 * down a local stack (or cleaning up after one that was killed) does, since cells
 * deliberately outlive their agent.
 */
export async function reapCells(stateDir: string, graceMs = 3000): Promise<number> {
  const records = cellRecords(stateDir);
  const running = records.filter((r) => r.alive);
  for (const r of running) signalCell(r.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (running.some((r) => alive(r.pid)) && Date.now() < deadline) await sleep(50);
  for (const r of running) if (alive(r.pid)) signalCell(r.pid, 'SIGKILL');
  for (const r of records) removeRecord(r.base);
  return running.length;
}

/**
 * Runs each cell as a real OS process on a loopback port, in its own process group,
 * so it outlives the agent: an agent restart adopts the cells it finds recorded under
 * `stateDir` instead of starting new ones (which would cost their sessions).
 * Readiness is the cell's own `/readyz` answering 200; an exit the driver did not ask
 * for is reported as such, so the control plane can tell a crash from a stop.
 */
export class ProcessDriver implements Driver {
  readonly name = 'process';
  private readonly cells = new Map<string, Running>();
  private readonly listeners: Array<(e: DriverEvent) => void> = [];
  private readonly cellMain: string;
  private pollTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private adopting: Promise<void> | undefined;

  constructor(private readonly opts: ProcessDriverOptions) {
    this.cellMain = opts.cellMain ?? join(__dirname, '..', 'cell', 'main.js');
    mkdirSync(cellsDir(opts.stateDir), { recursive: true });
  }

  private emit(e: DriverEvent): void {
    for (const l of this.listeners) l(e);
  }

  onEvent(listener: (event: DriverEvent) => void): void {
    this.listeners.push(listener);
  }

  list(): CellRuntimeStatus[] {
    return [...this.cells.values()].map((r) => ({
      world: r.record.world,
      cell: r.record.cell,
      incarnation: r.record.incarnation,
      phase: r.phase,
      endpoint: r.endpoint,
      tenant: r.record.tenant,
      tier: r.record.tier,
    }));
  }

  /** Pids of running cells (tests check that none outlive a delete). */
  pids(): number[] {
    return [...this.cells.values()].map((r) => r.record.pid);
  }

  /** The running cells with their OS pids and whom they are billed to, for metering their real consumption. */
  processes(): Array<Pick<CellRecord, 'world' | 'cell' | 'incarnation' | 'pid' | 'tenant' | 'tier'>> {
    return [...this.cells.values()]
      .filter((r) => !r.done)
      .map((r) => ({
        world: r.record.world,
        cell: r.record.cell,
        incarnation: r.record.incarnation,
        pid: r.record.pid,
        tenant: r.record.tenant,
        tier: r.record.tier,
      }));
  }

  private ref(r: CellRecord) {
    return { world: r.world, cell: r.cell, incarnation: r.incarnation, correlationId: r.correlationId };
  }

  private track(record: CellRecord, child: ChildProcess | undefined, base: string): Running {
    let markExited!: () => void;
    const r: Running = {
      record,
      child,
      phase: 'starting',
      endpoint: null,
      stopRequested: null,
      killReason: null,
      done: false,
      exited: new Promise<void>((res) => (markExited = res)),
      markExited: () => markExited(),
      base,
    };
    this.cells.set(key(record.world, record.cell), r);
    return r;
  }

  private onExit(r: Running, exitCode: number | null, why: string): void {
    if (r.done) return;
    r.done = true;
    const k = key(r.record.world, r.record.cell);
    if (this.cells.get(k) === r) this.cells.delete(k);
    removeRecord(r.base);
    this.emit({
      kind: 'exited',
      ...this.ref(r.record),
      exitCode,
      requested: r.stopRequested !== null && r.killReason === null,
      reason: r.killReason ?? r.stopRequested ?? why,
    });
    r.markExited();
  }

  /** Adopted cells are not our children: whether they still run is checked by pid. */
  private ensurePolling(): void {
    if (this.pollTimer || this.closed) return;
    this.pollTimer = setInterval(() => {
      for (const r of [...this.cells.values()]) {
        if (!r.child && !alive(r.record.pid)) this.onExit(r, null, 'process gone (exit status unknown: adopted)');
      }
    }, this.opts.pollMs ?? 500);
    this.pollTimer.unref();
  }

  adopt(): Promise<void> {
    this.adopting ??= this.adoptRecorded();
    return this.adopting;
  }

  private async adoptRecorded(): Promise<void> {
    await Promise.all(cellRecords(this.opts.stateDir).map((rec) => this.adoptOne(rec)));
    this.ensurePolling();
  }

  private async adoptOne(rec: CellRecord & { base: string; alive: boolean }): Promise<void> {
    const { base, alive: isAlive, ...record } = rec;
    const current = this.cells.get(key(record.world, record.cell));
    if (current && current.record.incarnation >= record.incarnation) return;
    const r = this.track(record, undefined, base);
    if (!isAlive) {
      this.onExit(r, null, 'exited while no agent was watching it');
      return;
    }
    this.emit({ kind: 'started', ...this.ref(record) });
    const endpoint = readJson(`${base}.endpoint.json`, EndpointRecordSchema);
    if (!endpoint || endpoint.pid !== record.pid) {
      // Forked but never got as far as listening (or still getting there): wait for it like a new one.
      void this.awaitReady(r);
      return;
    }
    r.endpoint = endpoint.endpoint;
    const info = await cells.info(endpoint.endpoint);
    if (info && (info.pid !== record.pid || info.world !== record.world || info.incarnation !== record.incarnation)) {
      // Someone else answers on that port now: the pid was reused, our cell is gone.
      this.onExit(r, null, 'exited while no agent was watching it (pid reused)');
      return;
    }
    // Alive: ready again if it says so. A cell that does not answer at all stays adopted and
    // is left to the health probe, which kills it only after repeated failures.
    void this.awaitReady(r);
  }

  async start(spec: CellRunSpec): Promise<void> {
    await this.adopt();
    const k = key(spec.world, spec.cell);
    const current = this.cells.get(k);
    if (current) {
      if (current.record.incarnation > spec.incarnation) return; // stale command
      if (current.record.incarnation === spec.incarnation && !current.stopRequested && !current.killReason) {
        // Idempotent: say again what is true now.
        if (current.phase === 'ready' && current.endpoint) {
          this.emit({ kind: 'ready', ...this.ref(current.record), endpoint: current.endpoint });
        }
        return;
      }
      await this.stopRunning(current, 'replaced by a newer incarnation');
    }
    const base = fileBase(this.opts.stateDir, spec.world, spec.cell, spec.incarnation);
    removeRecord(base);
    const log = openSync(this.opts.logFile ?? join(this.opts.stateDir, 'cells.log'), 'a');
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [this.cellMain], {
        env: {
          ...process.env,
          ...this.opts.env,
          ...cellEnv(spec, this.opts.sampleMs),
          FF_ENDPOINT_FILE: `${base}.endpoint.json`,
        },
        // Its own process group and no pipes to us: the cell must outlive this agent.
        detached: true,
        stdio: ['ignore', log, log],
      });
    } finally {
      closeSync(log);
    }
    if (child.pid === undefined) {
      await new Promise((r) => child.once('error', r));
      throw new Error(`could not start cell ${spec.cell}`);
    }
    child.unref();
    const record: CellRecord = {
      world: spec.world,
      cell: spec.cell,
      incarnation: spec.incarnation,
      correlationId: spec.correlationId,
      pid: child.pid,
      spawnedAt: new Date().toISOString(),
      tenant: spec.tenant ?? null,
      tier: spec.tier ?? null,
    };
    writeFileSync(`${base}.json`, JSON.stringify(record));
    const r = this.track(record, child, base);
    child.on('exit', (code, signal) =>
      this.onExit(r, code, signal ? `killed by ${signal}` : `exited with code ${code}`),
    );
    child.on('error', () => {
      // 'exit' follows and reports it.
    });
    this.emit({ kind: 'started', ...this.ref(record) });
    void this.awaitReady(r);
  }

  /** Waits for the cell's endpoint file, then probes `/readyz` as a kubelet would. */
  private async awaitReady(r: Running): Promise<void> {
    for (let i = 0; !r.endpoint; i++) {
      if (r.done || r.stopRequested || this.closed) return;
      const e = readJson(`${r.base}.endpoint.json`, EndpointRecordSchema);
      if (e && e.pid === r.record.pid) r.endpoint = e.endpoint;
      else await sleep(i < 100 ? 20 : 200);
    }
    for (let i = 0; i < 100; i++) {
      if (r.done || r.stopRequested || this.closed) return;
      if (await cells.ready(r.endpoint, 1000)) {
        if (r.done || r.stopRequested || r.killReason) return;
        r.phase = 'ready';
        this.emit({ kind: 'ready', ...this.ref(r.record), endpoint: r.endpoint });
        return;
      }
      await sleep(20 * Math.min(i + 1, 10));
    }
  }

  /** SIGTERM (SIGKILL after the grace period), then waits until the process is gone. */
  private async stopRunning(r: Running, reason: string): Promise<void> {
    r.stopRequested ??= reason;
    r.phase = 'stopping';
    if (r.done) return;
    signalCell(r.record.pid, 'SIGTERM');
    const timer = setTimeout(() => signalCell(r.record.pid, 'SIGKILL'), this.opts.stopGraceMs ?? 3000);
    this.ensurePolling();
    await r.exited;
    clearTimeout(timer);
  }

  async stop(world: string, cell: string, reason: string): Promise<void> {
    const r = this.cells.get(key(world, cell));
    if (!r) return;
    await this.stopRunning(r, reason);
  }

  async kill(world: string, cell: string, incarnation: number, reason: string): Promise<void> {
    const r = this.cells.get(key(world, cell));
    if (!r || r.record.incarnation !== incarnation || r.done) return;
    r.killReason ??= reason;
    r.phase = 'stopping';
    signalCell(r.record.pid, 'SIGKILL');
    this.ensurePolling();
    // Reported (by onExit) only once the process is confirmed gone.
    await r.exited;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.pollTimer);
    this.pollTimer = undefined;
  }

  async stopAll(reason: string): Promise<void> {
    await Promise.all([...this.cells.values()].map((r) => this.stopRunning(r, reason)));
  }
}
