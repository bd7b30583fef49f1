import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import {
  TierSchema,
  sleep,
  type CellRunSpec,
  type CellRuntimeStatus,
  type Driver,
  type DriverEvent,
  type MetricsSink,
  compareGenerations,
  knownGeneration,
} from '@fleetforge/shared';
import { HttpCellClient } from '../cell-client';
import { WarmRecordSchema } from '../cell/assign';
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
  /** Started from the warm pool: where it listened while idle (an assignment lost with its agent shows there). */
  warmEndpoint: z.string().url().nullable().default(null),
  /** The world's generation it was started for (see CellRunSpec); records from before generations have none. */
  generation: z.string().min(1).nullable().default(null),
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
  /** Stopped for a newer generation of its world: its exit is not reported (its name now means the new cell). */
  superseded: boolean;
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
  /** Counts starts by source (warm or cold). */
  metrics?: MetricsSink;
  /** How long a warm cell may take to be ready before it is given up on (default 20 s). */
  warmStartTimeoutMs?: number;
  /** Warm cells started at once while refilling the pool (default 2). */
  warmParallel?: number;
}

/** An idle cell process of the warm pool: started, listening, owning nothing yet. */
interface Warm {
  pid: number;
  child: ChildProcess;
  /** `<stateDir>/warm/<n>`: its record (`.json`) and the endpoint it writes (`.endpoint.json`). */
  base: string;
  endpoint: string | null;
  /** Set once it exited or was taken: it is no longer the pool's. */
  gone: boolean;
  /** Who handles its exit: the pool while idle, its cell once assigned. */
  onExit: (code: number | null, signal: NodeJS.Signals | null) => void;
}

const key = (world: string, cell: string) => `${world}/${cell}`;
/** Names warm cells' records; per process, as several drivers may share one (tests). */
let warmSeq = 0;

function exitWhy(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `killed by ${signal}` : `exited with code ${code}`;
}

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

function warmDir(stateDir: string): string {
  return join(stateDir, 'warm');
}

const WarmPidSchema = z.strictObject({ pid: z.number().int().positive() });

/**
 * Whether a recorded warm pid is still that warm cell, not a process that reused the pid
 * (after a reboot, say): it answers as that pid, or it was started with that record's file.
 */
async function isWarmCell(w: { pid: number; base: string }): Promise<boolean> {
  if (!alive(w.pid)) return false;
  const e = readJson(`${w.base}.endpoint.json`, WarmRecordSchema);
  if (e && e.pid === w.pid) return (await cells.warmPid(e.endpoint)) === w.pid;
  try {
    // Not listening yet: its environment names this record's endpoint file (Linux).
    return readFileSync(`/proc/${w.pid}/environ`, 'utf8')
      .split('\0')
      .includes(`FF_ENDPOINT_FILE=${w.base}.endpoint.json`);
  } catch {
    return false;
  }
}

/**
 * Every valid record in a records folder (`<base>.json`, beside the `<base>.endpoint.json`
 * its process writes), with its base path; a missing folder has none.
 */
function readRecords<T>(dir: string, schema: z.ZodType<T>): Array<T & { base: string }> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith('.json') && !n.endsWith('.endpoint.json'))
    .map((n) => join(dir, n.slice(0, -'.json'.length)))
    .flatMap((base) => {
      const r = readJson(`${base}.json`, schema);
      return r ? [{ ...r, base }] : [];
    });
}

/** Pids recorded for warm cells under a state folder (idle: they hold no sessions). */
function warmRecords(stateDir: string): Array<{ pid: number; base: string }> {
  return readRecords(warmDir(stateDir), WarmPidSchema);
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
  return readRecords(cellsDir(stateDir), CellRecordSchema).map((r) => ({ ...r, alive: alive(r.pid) }));
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
  const running: Array<{ pid: number }> = records.filter((r) => r.alive);
  for (const w of warmRecords(stateDir)) {
    if (await isWarmCell(w)) running.push(w);
    removeRecord(w.base);
  }
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
  /** The warm pool: idle cells, oldest first; those still starting have no endpoint yet. */
  private readonly warm: Warm[] = [];
  private warmTarget = 0;
  private warmFailures = 0;
  /** Refill workers running (at most `warmParallel`). */
  private filling = 0;
  /** Per cell: the tail of its queued starts, stops and kills (see inLane). */
  private readonly lanes = new Map<string, Promise<void>>();

  constructor(private readonly opts: ProcessDriverOptions) {
    this.cellMain = opts.cellMain ?? join(__dirname, '..', 'cell', 'main.js');
    mkdirSync(cellsDir(opts.stateDir), { recursive: true });
    mkdirSync(warmDir(opts.stateDir), { recursive: true });
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
      generation: r.record.generation,
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
      superseded: false,
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
    if (!r.superseded)
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
    // Warm cells an earlier agent left hold nothing: stopped rather than adopted, the pool refills.
    const mine = new Set(this.warm.map((w) => w.pid));
    for (const w of warmRecords(this.opts.stateDir)) {
      if (mine.has(w.pid)) continue;
      if (await isWarmCell(w)) signalCell(w.pid, 'SIGTERM');
      removeRecord(w.base);
    }
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
      if (record.warmEndpoint && (await cells.warmPid(record.warmEndpoint)) === record.pid) {
        // Still idle: the agent that took it died before its assignment arrived. It holds nothing;
        // killed and reported exited, the control plane starts the cell again.
        r.killReason = 'AssignmentLost: the agent that assigned this warm cell died first; killed';
        signalCell(record.pid, 'SIGKILL');
        return;
      }
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

  /**
   * Runs `fn` after everything queued for the same cell: a start awaits an assignment or a
   * fork, and a duplicate start or a stop arriving meanwhile must see its outcome, not a gap.
   */
  private inLane<T>(k: string, fn: () => Promise<T>): Promise<T> {
    const next = (this.lanes.get(k) ?? Promise.resolve()).then(fn, fn);
    const tail = next.then(
      () => undefined,
      () => undefined,
    );
    this.lanes.set(k, tail);
    void tail.then(() => this.lanes.get(k) === tail && this.lanes.delete(k));
    return next;
  }

  start(spec: CellRunSpec): Promise<void> {
    return this.inLane(key(spec.world, spec.cell), () => this.startNow(spec));
  }

  private async startNow(spec: CellRunSpec): Promise<void> {
    await this.adopt();
    const k = key(spec.world, spec.cell);
    const current = this.cells.get(k);
    const generation = compareGenerations(current?.record.generation, spec.generation);
    if (current && generation > 0) return; // a start for a world deleted since: this cell is its successor's
    if (current && generation < 0) {
      // The world was deleted and applied again: same name, maybe the same incarnation, another cell.
      current.superseded = true;
      await this.stopRunning(current, 'its world was deleted and applied again');
    } else if (current) {
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
    const env = { ...cellEnv(spec, this.opts.sampleMs), FF_ENDPOINT_FILE: `${base}.endpoint.json` };
    const record = (pid: number): CellRecord => ({
      world: spec.world,
      cell: spec.cell,
      incarnation: spec.incarnation,
      correlationId: spec.correlationId,
      pid,
      spawnedAt: new Date().toISOString(),
      tenant: spec.tenant ?? null,
      tier: spec.tier ?? null,
      warmEndpoint: null,
      generation: knownGeneration(spec.generation),
    });
    const warm = this.takeWarm();
    let r = warm
      ? await this.assignWarm(warm, { ...record(warm.pid), warmEndpoint: warm.endpoint }, base, env)
      : undefined;
    const source = r ? 'warm' : 'cold';
    if (!r) {
      const child = await this.spawnCell(env);
      r = this.track(record(child.pid!), child, base);
      // Recorded before anything else happens: an agent that dies now leaves a cell the next one adopts.
      writeFileSync(`${base}.json`, JSON.stringify(r.record));
      const cold = r;
      child.on('exit', (code, signal) => this.onExit(cold, code, exitWhy(code, signal)));
    }
    this.opts.metrics?.inc('fleetforge_agent_cell_starts_total', { driver: this.name, source });
    this.emit({ kind: 'started', ...this.ref(r.record) });
    void this.awaitReady(r);
    this.fillWarm();
  }

  /** Forks the cell entry point with `env` on top of ours, in its own process group, logging to the cells log. */
  private async spawnCell(env: Record<string, string>): Promise<ChildProcess> {
    const log = openSync(this.opts.logFile ?? join(this.opts.stateDir, 'cells.log'), 'a');
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [this.cellMain], {
        env: { ...process.env, ...this.opts.env, ...env },
        // Its own process group and no pipes to us: the cell must outlive this agent.
        detached: true,
        stdio: ['ignore', log, log],
      });
    } finally {
      closeSync(log);
    }
    if (child.pid === undefined) {
      await new Promise((r) => child.once('error', r));
      throw new Error('could not start a cell process');
    }
    child.unref();
    child.on('error', () => {
      // 'exit' follows and reports it.
    });
    return child;
  }

  /**
   * Keeps `n` idle, ready cells. Fewer wanted: the newest idle ones are stopped (they hold
   * nothing). More: they are started in the background, `warmParallel` at a time.
   */
  setWarmTarget(n: number): void {
    this.warmTarget = Math.max(0, Math.floor(n));
    while (this.warm.length > this.warmTarget) this.discardWarm(this.warm[this.warm.length - 1]!);
    this.fillWarm();
  }

  warmCount(): number {
    return this.warm.filter((w) => w.endpoint !== null).length;
  }

  /** Pids of the idle warm cells (tests check that none outlive a teardown). */
  warmPids(): number[] {
    return this.warm.map((w) => w.pid);
  }

  private fillWarm(): void {
    // A few at a time: a pool emptied by a wave of splits is back before the next wave,
    // yet a refill does not starve the cells that serve, or a hand-off in flight (2 cores).
    const workers = Math.max(1, this.opts.warmParallel ?? 2);
    const missing = this.warmTarget - this.warm.length;
    while (!this.closed && this.filling < Math.min(workers, missing)) {
      this.filling++;
      void (async () => {
        while (!this.closed && this.warm.length < this.warmTarget) {
          if (this.warmFailures > 0) await sleep(Math.min(30_000, 500 * 2 ** this.warmFailures));
          if (this.closed || this.warm.length >= this.warmTarget) break;
          const ok = await this.spawnWarm().catch(() => false);
          this.warmFailures = ok ? 0 : this.warmFailures + 1;
        }
      })().finally(() => this.filling--);
    }
  }

  /** Starts one warm cell and waits until it listens; false if it died or took too long. */
  private async spawnWarm(): Promise<boolean> {
    const base = join(warmDir(this.opts.stateDir), `${process.pid}-${++warmSeq}`);
    const child = await this.spawnCell({
      FF_WARM: '1',
      FF_ENDPOINT_FILE: `${base}.endpoint.json`,
      FF_SAMPLE_MS: String(this.opts.sampleMs ?? 1000),
    });
    writeFileSync(`${base}.json`, JSON.stringify({ pid: child.pid }));
    const w: Warm = { pid: child.pid!, child, base, endpoint: null, gone: false, onExit: () => this.warmExited(w) };
    child.on('exit', (code, signal) => w.onExit(code, signal));
    this.warm.push(w);
    const deadline = Date.now() + (this.opts.warmStartTimeoutMs ?? 20_000);
    for (let i = 0; !w.gone && !this.closed; i++) {
      const e = readJson(`${base}.endpoint.json`, WarmRecordSchema);
      if (e && e.pid === w.pid) {
        w.endpoint = e.endpoint;
        return true;
      }
      if (Date.now() > deadline) {
        this.discardWarm(w);
        return false;
      }
      await sleep(i < 100 ? 20 : 200);
    }
    return false;
  }

  /** An idle warm cell exited on its own: out of the pool, which refills (backing off if they keep dying). */
  private warmExited(w: Warm): void {
    if (w.gone) return;
    w.gone = true;
    const i = this.warm.indexOf(w);
    if (i >= 0) this.warm.splice(i, 1);
    removeRecord(w.base);
    this.warmFailures++;
    this.fillWarm();
  }

  private discardWarm(w: Warm): void {
    w.gone = true;
    const i = this.warm.indexOf(w);
    if (i >= 0) this.warm.splice(i, 1);
    signalCell(w.pid, 'SIGTERM');
    removeRecord(w.base);
  }

  private takeWarm(): Warm | undefined {
    const i = this.warm.findIndex((w) => w.endpoint !== null && !w.gone);
    if (i < 0) return undefined;
    const [w] = this.warm.splice(i, 1);
    w!.gone = true;
    return w;
  }

  /**
   * Makes a warm cell the cell `record` names. Its cell record is written first (an agent
   * that dies mid-assignment leaves a cell the next one adopts); refused or unreachable,
   * it is killed and undefined returned, and the caller starts the cell cold.
   */
  private async assignWarm(
    w: Warm,
    record: CellRecord,
    base: string,
    env: Record<string, string>,
  ): Promise<Running | undefined> {
    writeFileSync(`${base}.json`, JSON.stringify(record));
    removeRecord(w.base);
    let exitedEarly: [number | null, NodeJS.Signals | null] | undefined;
    w.onExit = (code, signal) => (exitedEarly = [code, signal]);
    try {
      await cells.assign(w.endpoint!, env);
    } catch {
      signalCell(w.pid, 'SIGKILL');
      removeRecord(base);
      return undefined;
    }
    const r = this.track(record, w.child, base);
    w.onExit = (code, signal) => this.onExit(r, code, exitWhy(code, signal));
    if (exitedEarly) w.onExit(...exitedEarly);
    return r;
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

  stop(world: string, cell: string, reason: string): Promise<void> {
    return this.inLane(key(world, cell), async () => {
      const r = this.cells.get(key(world, cell));
      if (r) await this.stopRunning(r, reason);
    });
  }

  kill(world: string, cell: string, incarnation: number, reason: string): Promise<void> {
    return this.inLane(key(world, cell), async () => {
      const r = this.cells.get(key(world, cell));
      if (!r || r.record.incarnation !== incarnation || r.done) return;
      r.killReason ??= reason;
      r.phase = 'stopping';
      signalCell(r.record.pid, 'SIGKILL');
      this.ensurePolling();
      // Reported (by onExit) only once the process is confirmed gone.
      await r.exited;
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    // Idle warm cells stay (cells outlive their agent); the next agent stops them at adoption.
    clearInterval(this.pollTimer);
    this.pollTimer = undefined;
  }

  async stopAll(reason: string): Promise<void> {
    this.warmTarget = 0;
    for (const w of [...this.warm]) this.discardWarm(w);
    // Starts in flight finish first, so none is left running behind this.
    await Promise.all([...this.lanes.values()]);
    await Promise.all([...this.cells.values()].map((r) => this.stopRunning(r, reason)));
  }
}
