import { randomUUID } from 'node:crypto';
import {
  AgentCommandSchema,
  AgentHeartbeatSchema,
  AgentReportBatchSchema,
  AgentReportSchema,
  TOPICS,
  parseOrThrow,
  sleep,
  subscriptionFor,
  type AgentCommand,
  type AgentReport,
  type Bus,
  type CellClient,
  type CellSample,
  type Driver,
  type DriverEvent,
  type MetricsSink,
  type SubscriptionHandle,
  compareGenerations,
  type CellRuntimeStatus,
} from '@fleetforge/shared';
import type { Logger } from '@fleetforge/functions/adapters';
import type { z } from 'zod';
import { HttpCellClient } from './cell-client';
import { WarmTargets } from './warm-targets';

/** The fields every report repeats from the command or event it answers. */
function ref(c: { world: string; cell: string; incarnation: number; correlationId: string }) {
  return { world: c.world, cell: c.cell, incarnation: c.incarnation, correlationId: c.correlationId };
}

export interface ProbeOptions {
  /** How often every running cell's `/healthz` is asked. */
  periodMs: number;
  timeoutMs: number;
  /** Consecutive failures before the cell is killed (and reported as exited). */
  failures: number;
}

export const DEFAULT_PROBE: ProbeOptions = { periodMs: 2000, timeoutMs: 1000, failures: 3 };

export interface AgentOptions {
  agentId: string;
  bus: Bus;
  driver: Driver;
  log: Logger;
  metrics: MetricsSink;
  /** How the agent reaches cells (HTTP unless a test fakes it). */
  client?: CellClient;
  /** How often buffered load samples are relayed to `cell-metrics`. */
  relayMs?: number;
  /** How often each ready cell is asked for a load sample (default: relayMs). */
  sampleMs?: number;
  /** How often the agent's own heartbeat goes out. */
  heartbeatMs?: number;
  probe?: ProbeOptions;
  /**
   * Checked before each command: false means this agent must not act (it lost its
   * leader lease), so the command is handed back for the leader to take.
   */
  canAct?: () => boolean;
  /** Monotonic milliseconds (tests fake a stall with it). */
  monotonic?: () => number;
  /** How long two syncs must agree that a running cell is not kept before it is stopped (default 10 s). */
  orphanAfterMs?: number;
  /**
   * How long a report waits for others to share its message (main.ts: FF_REPORT_BATCH_MS,
   * 5 ms). 0 or absent: only reports made in the same tick share one.
   */
  reportBatchMs?: number;
  /**
   * How long `started`/`ready`/`handedOff` reports of a world wait while other starts or
   * hand-offs of their operation are still under way (main.ts: FF_REPORT_HOLD_MS, 500 ms): a
   * split's children become ready tens of milliseconds apart and a merge's siblings hand
   * off at once, and one message for all of them is one reconcile pass instead of one
   * each. 0: no hold.
   */
  reportHoldMs?: number;
  /**
   * Warm pool bounds: idle cells kept whatever the worlds ask (default 0) and at most
   * (default 16); worlds ask with `spec.warmPool.size` on their starts and syncs.
   */
  warm?: { min?: number; max?: number };
  /**
   * How often the warm pool's count is checked (default 500 ms; 0: never): a changed count
   * goes out at once as an extra heartbeat, since splits wait for warm cells by it and the
   * regular heartbeat is seconds old.
   */
  warmReportMs?: number;
}

/** A stopped incarnation of one generation of a world (see Agent.tombstones). */
const tombKey = (world: string, generation: string, cell: string, incarnation: number): string =>
  `${world}@${generation}/${cell}#${incarnation}`;

type CellRef = { world: string; cell: string; incarnation: number };
const startKey = (c: CellRef): string => `${c.world}/${c.cell}#${c.incarnation}`;
const handoffKey = (c: CellRef): string => `${startKey(c)}/handoff`;
/** Reports that only move an operation along, so they may wait for their siblings (see heldWorlds). */
const HOLDABLE: ReadonlySet<AgentReport['kind']> = new Set(['started', 'ready', 'handedOff']);

/**
 * The in-cluster agent: executes agent-commands through its driver and reports
 * what the driver observes on agent-reports. Level-based: a command is a desired
 * state, re-running one is harmless, and a stop for a cell it does not run is
 * answered with "stopped" because that is what is true.
 *
 * It replaces nothing on its own and never concludes from silence: a cell is
 * reported gone only when the driver saw it exit, when its health probe failed
 * `probe.failures` times in a row and the driver confirmed it killed it, or when a
 * `sync` names a cell the driver (after adopting what an earlier agent left) does not run.
 */
export class Agent {
  private subscription: SubscriptionHandle | undefined;
  private readonly samples = new Map<string, CellSample[]>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly pending = new Set<Promise<unknown>>();
  private readonly client: CellClient;
  private readonly probe: ProbeOptions;
  readonly bootId = randomUUID();
  readonly startedAt = new Date().toISOString();
  private seq = 0;
  private adopted = false;
  private stopped = false;
  /** One sample request and one probe in flight per cell at most. */
  private readonly sampling = new Set<string>();
  private readonly probing = new Set<string>();
  private readonly probeFailures = new Map<string, number>();
  private lastProbeTick = 0;
  private readonly mono: () => number;
  /**
   * Incarnations this agent stopped (or answered "stopped" for), so a start delivered
   * late for one of them does not launch a cell nothing will ever stop again. Keyed by
   * the world's generation too: a world deleted and applied again reuses its cell names
   * and incarnations, and the new world's starts must not be refused.
   */
  private readonly tombstones = new Set<string>();
  private static readonly MAX_TOMBSTONES = 10_000;
  /**
   * Cells a sync did not keep, with when (monotonic ms) that was first seen. A cell is
   * stopped as an orphan only when a later sync, at least `orphanAfterMs` on, agrees:
   * one snapshot can predate a start that raced it, two a sweep apart cannot.
   */
  private readonly orphanSuspects = new Map<string, number>();
  private readonly warmTargets: WarmTargets;
  /** The warm count the last heartbeat carried. */
  private warmSent = -1;
  /** Reports waiting for their batch, per world, and the flush that will publish them. */
  private readonly outbox = new Map<string, AgentReport[]>();
  /** When each world's oldest queued report was made (monotonic ms). */
  private readonly outboxSince = new Map<string, number>();
  private outboxFlush: Promise<void> | undefined;
  /**
   * Work under way whose report the control plane waits for: starts whose cell has not
   * come up (or failed) yet and hand-offs not finished, with the operation (correlation id)
   * each serves and when they began (monotonic ms).
   */
  private readonly underWay = new Map<string, { world: string; correlationId: string; since: number }>();

  constructor(private readonly opts: AgentOptions) {
    this.client = opts.client ?? new HttpCellClient();
    this.probe = opts.probe ?? DEFAULT_PROBE;
    this.mono = opts.monotonic ?? (() => performance.now());
    this.warmTargets = new WarmTargets({
      min: opts.warm?.min ?? 0,
      max: opts.warm?.max ?? 16,
      // Several sentinel sweeps (a minute apart) must be missed before a world's pool lapses.
      forgetAfterMs: 5 * 60_000,
    });
    opts.driver.onEvent((e) => this.track(this.onDriverEvent(e)));
  }

  private track(p: Promise<unknown>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  private every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.timers.push(t);
  }

  /**
   * Adopts the cells an earlier agent left running, then takes commands. Heartbeats
   * start at once, so the control plane sees the agent alive while it adopts.
   */
  async start(): Promise<void> {
    this.every(this.opts.heartbeatMs ?? 5000, () => this.track(this.heartbeat()));
    const warmCount = this.opts.driver.warmCount?.bind(this.opts.driver);
    const warmReportMs = this.opts.warmReportMs ?? 500;
    if (warmCount && warmReportMs > 0) {
      this.every(warmReportMs, () => {
        if (this.adopted && warmCount() !== this.warmSent) this.track(this.heartbeat());
      });
    }
    this.track(this.heartbeat());
    const adoptStarted = performance.now();
    await this.opts.driver.adopt();
    this.adopted = true;
    this.opts.log.info(
      { cells: this.opts.driver.list().length, ms: Math.round(performance.now() - adoptStarted) },
      'adopted the running cells',
    );
    this.track(this.heartbeat());
    const sub = subscriptionFor('agent');
    this.subscription = this.opts.bus.subscribe(
      sub.name,
      async (m) => {
        let command: AgentCommand;
        try {
          command = parseOrThrow(AgentCommandSchema, m.data, 'agent command');
        } catch (err) {
          // Poison: retrying cannot fix it. Acked here; the reason is in the log.
          this.opts.log.error({ messageId: m.id, reason: (err as Error).message }, 'poison command dropped');
          this.opts.metrics.inc('fleetforge_agent_commands_total', { kind: 'invalid', outcome: 'poison' });
          return;
        }
        if (this.opts.canAct && !this.opts.canAct()) throw new Error('not the leader: command handed back');
        // How long the command took to reach us: Pub/Sub delivery, in the command log.
        await this.execute(command, Math.max(0, Date.now() - Date.parse(m.publishTime)));
      },
      (err) => this.opts.log.error({ err: err.message, subscription: sub.name }, 'command subscription error'),
    );
    const sampleMs = this.opts.sampleMs ?? this.opts.relayMs ?? 1000;
    this.every(sampleMs, () => this.sampleAll());
    this.every(this.opts.relayMs ?? 1000, () => this.track(this.relay()));
    this.lastProbeTick = this.mono();
    this.every(this.probe.periodMs, () => this.probeAll());
    this.opts.log.info(
      { agentId: this.opts.agentId, bootId: this.bootId, driver: this.opts.driver.name },
      'agent started',
    );
  }

  /** Runs one command; throws only for failures worth a redelivery. */
  async execute(c: AgentCommand, deliveryMs?: number): Promise<void> {
    const began = this.mono();
    const log = this.opts.log.child({
      correlationId: c.correlationId,
      world: c.world,
      kind: c.kind,
      ...(c.kind !== 'sync' ? { cell: c.cell } : {}),
    });
    try {
      if (c.kind === 'start' || c.kind === 'sync') {
        this.warmTargets.note(c.world, c.warmPool, this.mono());
        this.resizeWarmPool();
      }
      switch (c.kind) {
        case 'start':
          if (this.tombstones.has(tombKey(c.world, c.generation, c.cell, c.incarnation))) {
            log.info({ incarnation: c.incarnation }, 'start for a stopped incarnation ignored');
            await this.report({ ...ref(c), kind: 'stopped', reason: 'already stopped' });
            break;
          }
          this.underWay.set(startKey(c), { world: c.world, correlationId: c.correlationId, since: this.mono() });
          await this.opts.driver.start({
            world: c.world,
            cell: c.cell,
            incarnation: c.incarnation,
            boundary: c.boundary,
            capacity: c.capacity,
            epoch: c.epoch,
            neverReady: c.neverReady,
            correlationId: c.correlationId,
            generation: c.generation,
            tenant: c.tenant,
            tier: c.tier,
          });
          break;
        case 'stop': {
          this.tombstone(c.world, c.generation, c.cell, c.incarnation);
          const running = this.running(c.world, c.cell);
          // A stop of an older incarnation, or of the world before it was deleted and applied again.
          if (
            running &&
            (running.incarnation > c.incarnation || compareGenerations(running.generation, c.generation) > 0)
          ) {
            log.info({ running: running.incarnation, asked: c.incarnation }, 'stale stop ignored');
          } else if (running) {
            await this.opts.driver.stop(c.world, c.cell, c.reason);
          } else {
            await this.report({ ...ref(c), kind: 'stopped', reason: c.reason });
          }
          break;
        }
        case 'handoff':
          await this.handoff(c, log);
          break;
        case 'sync':
          await this.sync(c, log);
          break;
      }
      this.opts.metrics.inc('fleetforge_agent_commands_total', { kind: c.kind, outcome: 'ok' });
      this.opts.metrics.set('fleetforge_agent_cells', this.opts.driver.list().length, {
        driver: this.opts.driver.name,
      });
      log.info(
        {
          ...(c.kind === 'sync' ? { cells: c.cells.length } : { incarnation: c.incarnation }),
          ms: Math.round(this.mono() - began),
          deliveryMs,
        },
        'command executed',
      );
    } catch (err) {
      if (c.kind === 'start') this.underWay.delete(startKey(c));
      if (c.kind === 'handoff') this.underWay.delete(handoffKey(c));
      this.opts.metrics.inc('fleetforge_agent_commands_total', { kind: c.kind, outcome: 'error' });
      log.error({ err: String(err) }, 'command failed; it will be delivered again');
      throw err;
    }
  }

  private tombstone(world: string, generation: string, cell: string, incarnation: number): void {
    if (this.tombstones.size >= Agent.MAX_TOMBSTONES) this.tombstones.clear();
    this.tombstones.add(tombKey(world, generation, cell, incarnation));
  }

  private running(world: string, cell: string) {
    return this.opts.driver.list().find((r) => r.world === world && r.cell === cell);
  }

  /**
   * Asks the source cell to hand its sessions to the targets, then reports how many
   * it has handed over. A source that is gone has nothing left to hand over, which
   * is reported too, so the operation can move on.
   */
  private async handoff(c: Extract<AgentCommand, { kind: 'handoff' }>, log: Logger): Promise<void> {
    const running = this.running(c.world, c.cell);
    if (!running?.endpoint || running.incarnation !== c.incarnation) {
      log.warn({ operation: c.operation }, 'hand-off source is not running; reporting nothing to move');
      await this.report({
        ...ref(c),
        kind: 'handedOff',
        operation: c.operation,
        moved: 0,
        reason: 'source not running',
      });
      return;
    }
    const began = this.mono();
    this.underWay.set(handoffKey(c), { world: c.world, correlationId: c.correlationId, since: began });
    const result = await this.client.handoff(running.endpoint, { epoch: c.epoch, targets: c.targets });
    this.underWay.delete(handoffKey(c));
    log.info(
      { operation: c.operation, moved: result.moved, byTarget: result.byTarget, ms: Math.round(this.mono() - began) },
      'sessions handed off',
    );
    await this.report({ ...ref(c), kind: 'handedOff', operation: c.operation, moved: result.moved });
  }

  /**
   * The control plane names the cells it believes serving; any this agent does not
   * run is reported exited. Only once adoption is complete: before that, "not in my
   * list" could mean "not found yet".
   */
  private async sync(c: Extract<AgentCommand, { kind: 'sync' }>, log: Logger): Promise<void> {
    if (!this.adopted) throw new Error('sync before adoption completed');
    const keep = new Set(c.keep.map((k) => `${k.cell}#${k.incarnation}`));
    const now = this.mono();
    // A cell of an earlier generation of this world (deleted and applied again) is none of these.
    const current = (r: CellRuntimeStatus) => compareGenerations(r.generation, c.generation) >= 0;
    for (const r of this.opts.driver.list()) {
      if (r.world !== c.world) continue;
      const key = `${r.world}/${r.cell}#${r.incarnation}`;
      if (keep.has(`${r.cell}#${r.incarnation}`) && current(r)) {
        this.orphanSuspects.delete(key);
        continue;
      }
      const since = this.orphanSuspects.get(key);
      if (since === undefined) {
        this.orphanSuspects.set(key, now);
        log.info({ cell: r.cell, incarnation: r.incarnation }, 'a running cell the control plane does not keep');
      } else if (now - since >= (this.opts.orphanAfterMs ?? 10_000)) {
        this.orphanSuspects.delete(key);
        log.warn({ cell: r.cell, incarnation: r.incarnation }, 'stopping an orphan cell');
        this.opts.metrics.inc('fleetforge_agent_orphans_stopped_total', { driver: this.opts.driver.name });
        this.tombstone(r.world, c.generation, r.cell, r.incarnation);
        await this.opts.driver.stop(r.world, r.cell, 'Orphan: the control plane no longer keeps this incarnation');
      }
    }
    for (const want of c.cells) {
      const running = this.running(c.world, want.cell);
      if (running && running.incarnation >= want.incarnation && current(running)) continue;
      if (this.tombstones.has(tombKey(c.world, c.generation, want.cell, want.incarnation))) continue;
      log.warn({ cell: want.cell, incarnation: want.incarnation }, 'a cell believed serving does not run here');
      this.opts.metrics.inc('fleetforge_agent_sync_missing_total', { driver: this.opts.driver.name });
      await this.report({
        world: c.world,
        cell: want.cell,
        incarnation: want.incarnation,
        correlationId: c.correlationId,
        kind: 'exited',
        exitCode: null,
        reason: `NotRunning: agent ${this.opts.agentId} does not run this incarnation`,
      });
    }
  }

  private async onDriverEvent(e: DriverEvent): Promise<void> {
    const base = { world: e.world, cell: e.cell, incarnation: e.incarnation, correlationId: e.correlationId };
    if (e.kind !== 'started') this.underWay.delete(startKey(e));
    if (e.kind === 'started') await this.report({ ...base, kind: 'started' });
    else if (e.kind === 'ready') {
      this.opts.log.info(
        { world: e.world, cell: e.cell, incarnation: e.incarnation, correlationId: e.correlationId },
        'cell ready',
      );
      await this.report({ ...base, kind: 'ready', endpoint: e.endpoint });
    } else {
      this.probeFailures.delete(`${e.world}/${e.cell}#${e.incarnation}`);
      await this.report({ ...base, kind: e.requested ? 'stopped' : 'exited', exitCode: e.exitCode, reason: e.reason });
    }
    this.opts.metrics.set('fleetforge_agent_cells', this.opts.driver.list().length, { driver: this.opts.driver.name });
  }

  /** Every ready cell is asked for its load; one request in flight per cell. */
  private sampleAll(): void {
    for (const r of this.opts.driver.list()) {
      if (r.phase !== 'ready' || !r.endpoint) continue;
      const key = `${r.world}/${r.cell}#${r.incarnation}`;
      if (this.sampling.has(key)) continue;
      this.sampling.add(key);
      const endpoint = r.endpoint;
      this.track(
        this.client
          .sample(endpoint)
          .then((s) => {
            const list = this.samples.get(r.world) ?? [];
            list.push({
              cell: r.cell,
              incarnation: r.incarnation,
              at: s.at,
              sessions: s.sessions,
              cpuMillis: s.cpuMillis,
              memoryMiB: s.memoryMiB,
              ...(s.hist ? { hist: s.hist } : {}),
            });
            this.samples.set(r.world, list);
          })
          .catch((err: unknown) => this.opts.log.debug({ err: String(err), cell: r.cell }, 'sample failed'))
          .finally(() => this.sampling.delete(key)),
      );
    }
  }

  /**
   * Probes every running cell's `/healthz`. A cell that fails `probe.failures` probes in
   * a row is killed, and reported only when the driver has confirmed it gone. A tick
   * that comes far too late means this agent itself was stalled (paused, starved): its
   * probes then say nothing about the cells, so the counts start over.
   */
  private probeAll(): void {
    const now = this.mono();
    const gapMs = now - this.lastProbeTick;
    this.lastProbeTick = now;
    if (gapMs > this.probe.periodMs * 2.5) {
      this.opts.log.warn({ gapMs: Math.round(gapMs) }, 'agent was stalled; probe counts reset');
      this.probeFailures.clear();
      return;
    }
    const live = new Set<string>();
    for (const r of this.opts.driver.list()) {
      if (r.phase !== 'ready' || !r.endpoint) continue;
      const key = `${r.world}/${r.cell}#${r.incarnation}`;
      live.add(key);
      if (this.probing.has(key)) continue;
      this.probing.add(key);
      const endpoint = r.endpoint;
      const sentAt = this.mono();
      this.track(
        this.client
          .healthy(endpoint, this.probe.timeoutMs)
          .then(async (ok) => {
            // An answer that took far longer than its timeout was delayed here, not by the cell.
            if (!ok && this.mono() - sentAt > this.probe.timeoutMs * 3) return;
            if (ok) {
              this.probeFailures.delete(key);
              return;
            }
            const n = (this.probeFailures.get(key) ?? 0) + 1;
            this.probeFailures.set(key, n);
            this.opts.log.warn({ world: r.world, cell: r.cell, failures: n }, 'cell health probe failed');
            if (n < this.probe.failures) return;
            this.probeFailures.delete(key);
            this.opts.metrics.inc('fleetforge_agent_probe_kills_total', { driver: this.opts.driver.name });
            await this.opts.driver.kill(
              r.world,
              r.cell,
              r.incarnation,
              `ProbeFailed: /healthz failed ${n} times in a row; killed`,
            );
          })
          .catch((err: unknown) => this.opts.log.error({ err: String(err), cell: r.cell }, 'probe kill failed'))
          .finally(() => this.probing.delete(key)),
      );
    }
    for (const key of [...this.probeFailures.keys()]) if (!live.has(key)) this.probeFailures.delete(key);
  }

  /** Tells the driver how many idle cells to keep (a driver without a pool has none). */
  private resizeWarmPool(): void {
    if (!this.opts.driver.setWarmTarget || this.stopped) return;
    const target = this.warmTargets.total(this.mono());
    this.opts.driver.setWarmTarget(target);
    this.opts.metrics.set('fleetforge_agent_warm_target', target, { driver: this.opts.driver.name });
  }

  private async heartbeat(): Promise<void> {
    if (this.stopped) return;
    // Also where a world's pool lapses when nothing has named it for a while.
    if (this.adopted) this.resizeWarmPool();
    const warm = this.opts.driver.warmCount?.() ?? 0;
    this.warmSent = warm;
    const hb = AgentHeartbeatSchema.parse({
      kind: 'heartbeat',
      agentId: this.opts.agentId,
      bootId: this.bootId,
      startedAt: this.startedAt,
      at: new Date().toISOString(),
      seq: this.seq++,
      driver: this.opts.driver.name,
      cells: this.opts.driver.list().length,
      adopted: this.adopted,
      worlds: [...new Set(this.opts.driver.list().map((r) => r.world))].sort().slice(0, 1024),
      warm,
      warmTarget: this.opts.driver.setWarmTarget ? this.warmTargets.total(this.mono()) : 0,
      correlationId: `agent-${this.opts.agentId}`,
    });
    try {
      await this.opts.bus.publish(TOPICS.agentReports, hb, { correlationId: hb.correlationId });
    } catch (err) {
      this.opts.log.warn({ err: String(err) }, 'heartbeat publish failed');
    }
  }

  /**
   * Queues a report; resolves once it is published. Reports made within `reportBatchMs`
   * of each other go out together, one message per world: the four children of a split
   * become ready at once, and one delivery applies them in one reconcile pass.
   */
  private report(r: Omit<z.input<typeof AgentReportSchema>, 'agentId' | 'at'>): Promise<void> {
    const report = AgentReportSchema.parse({ agentId: this.opts.agentId, at: new Date().toISOString(), ...r });
    const queued = this.outbox.get(report.world) ?? [];
    if (queued.length === 0) this.outboxSince.set(report.world, this.mono());
    queued.push(report);
    this.outbox.set(report.world, queued);
    return this.armFlush();
  }

  /** Resolves once every report queued so far is published (held ones included). */
  private armFlush(): Promise<void> {
    const wait = this.opts.reportBatchMs ? sleep(this.opts.reportBatchMs) : Promise.resolve();
    this.outboxFlush ??= wait.then(async () => {
      this.outboxFlush = undefined;
      const held = this.heldWorlds();
      await this.flushReports(held);
      if (held.size > 0) {
        if (!this.opts.reportBatchMs) await sleep(5);
        await this.armFlush();
      }
    });
    return this.outboxFlush;
  }

  /**
   * Worlds whose queued reports wait for more: only `started`/`ready`/`handedOff` queued,
   * another start or hand-off of the same operation (correlation id) as one of them still
   * under way, and the oldest report younger than the hold. Another operation's work does
   * not hold them: two splits overlapping would otherwise wait on each other's hand-offs.
   */
  private heldWorlds(): Set<string> {
    const held = new Set<string>();
    const hold = this.opts.reportHoldMs ?? 0;
    if (hold <= 0 || this.stopped) return held;
    const now = this.mono();
    // A start that never reports (a duplicate of a running cell, say) stops counting after a while.
    for (const [key, s] of this.underWay) if (now - s.since > 30_000) this.underWay.delete(key);
    const waiting = new Set([...this.underWay.values()].map((s) => `${s.world}/${s.correlationId}`));
    for (const [world, reports] of this.outbox) {
      if (now - (this.outboxSince.get(world) ?? now) >= hold) continue;
      if (!reports.every((x) => HOLDABLE.has(x.kind))) continue;
      if (reports.some((x) => waiting.has(`${world}/${x.correlationId}`))) held.add(world);
    }
    return held;
  }

  private async flushReports(held: ReadonlySet<string>): Promise<void> {
    const due = new Map([...this.outbox].filter(([world]) => !held.has(world)));
    for (const world of due.keys()) {
      this.outbox.delete(world);
      this.outboxSince.delete(world);
    }
    await drainPerWorld(due, async (world, chunk) => {
      const first = chunk[0]!;
      const message =
        chunk.length === 1
          ? first
          : AgentReportBatchSchema.parse({
              kind: 'reports',
              agentId: this.opts.agentId,
              world,
              reports: chunk,
              correlationId: first.correlationId,
            });
      try {
        await this.opts.bus.publish(TOPICS.agentReports, message, { world, correlationId: first.correlationId });
      } catch (err) {
        // Level-based recovery covers a lost report: the reconciler re-sends the command and we re-announce.
        this.opts.log.warn(
          { err: String(err), world, reports: chunk.map((c) => `${c.cell}:${c.kind}`) },
          'report publish failed',
        );
      }
    });
  }

  /** One `cell-metrics` message per world per tick: bounded traffic whatever the cell count. */
  private async relay(): Promise<void> {
    await drainPerWorld(this.samples, (world, samples) =>
      this.opts.bus.publish(TOPICS.cellMetrics, { world, agentId: this.opts.agentId, samples }, { world }).then(
        () => undefined,
        (err: unknown) => this.opts.log.warn({ err: String(err), world }, 'metrics relay failed; samples dropped'),
      ),
    );
  }

  /**
   * Stops taking commands and reporting, and lets go of the driver. The cells keep
   * running: an agent restart, rollout or drain must not cost a session.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
    await this.subscription?.close();
    await Promise.allSettled([...this.pending]);
    await this.outboxFlush;
    await this.relay();
    await this.opts.driver.close();
  }
}

/**
 * Empties a per-world buffer and sends it: worlds in parallel, each world's items in
 * order and in messages of at most 256 (what the message schemas allow).
 */
async function drainPerWorld<T>(buffer: Map<string, T[]>, send: (world: string, chunk: T[]) => Promise<void>) {
  const batches = [...buffer];
  buffer.clear();
  await Promise.all(
    batches.map(async ([world, items]) => {
      for (let i = 0; i < items.length; i += 256) await send(world, items.slice(i, i + 256));
    }),
  );
}
