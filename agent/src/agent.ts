import {
  AgentCommandSchema,
  AgentReportSchema,
  TOPICS,
  parseOrThrow,
  subscriptionFor,
  type AgentCommand,
  type Bus,
  type CellSample,
  type Driver,
  type DriverEvent,
  type MetricsSink,
  type SubscriptionHandle,
} from '@fleetforge/shared';
import type { Logger } from '@fleetforge/functions/adapters';
import type { z } from 'zod';

/** The fields every report repeats from the command or event it answers. */
function ref(c: { world: string; cell: string; incarnation: number; correlationId: string }) {
  return { world: c.world, cell: c.cell, incarnation: c.incarnation, correlationId: c.correlationId };
}

export interface AgentOptions {
  agentId: string;
  bus: Bus;
  driver: Driver;
  log: Logger;
  metrics: MetricsSink;
  /** How often buffered load samples are relayed to `cell-metrics`. */
  relayMs?: number;
}

/**
 * The in-cluster agent: executes agent-commands through its driver and reports
 * what the driver observes on agent-reports. Level-based: a command is a desired
 * state, re-running one is harmless, and a stop for a cell it does not run is
 * answered with "stopped" because that is what is true.
 */
export class Agent {
  private subscription: SubscriptionHandle | undefined;
  private readonly samples = new Map<string, CellSample[]>();
  private relayTimer: NodeJS.Timeout | undefined;
  private readonly pending = new Set<Promise<unknown>>();
  /**
   * Incarnations this agent stopped (or answered "stopped" for), so a start delivered
   * late for one of them does not launch a cell nothing will ever stop again.
   */
  private readonly tombstones = new Set<string>();
  private static readonly MAX_TOMBSTONES = 10_000;

  constructor(private readonly opts: AgentOptions) {
    opts.driver.onEvent((e) => this.track(this.onDriverEvent(e)));
  }

  private track(p: Promise<unknown>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  start(): void {
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
        await this.execute(command);
      },
      (err) => this.opts.log.error({ err: err.message, subscription: sub.name }, 'command subscription error'),
    );
    this.relayTimer = setInterval(() => this.track(this.relay()), this.opts.relayMs ?? 1000);
    this.opts.log.info({ agentId: this.opts.agentId, driver: this.opts.driver.name }, 'agent started');
  }

  /** Runs one command; throws only for failures worth a redelivery. */
  async execute(c: AgentCommand): Promise<void> {
    const log = this.opts.log.child({ correlationId: c.correlationId, world: c.world, cell: c.cell, kind: c.kind });
    try {
      switch (c.kind) {
        case 'start':
          if (this.tombstones.has(`${c.world}/${c.cell}#${c.incarnation}`)) {
            log.info({ incarnation: c.incarnation }, 'start for a stopped incarnation ignored');
            await this.report({ ...ref(c), kind: 'stopped', reason: 'already stopped' });
            break;
          }
          await this.opts.driver.start({
            world: c.world,
            cell: c.cell,
            incarnation: c.incarnation,
            boundary: c.boundary,
            capacity: c.capacity,
            epoch: c.epoch,
            neverReady: c.neverReady,
            correlationId: c.correlationId,
          });
          break;
        case 'stop': {
          this.tombstone(c.world, c.cell, c.incarnation);
          const running = this.running(c.world, c.cell);
          if (running && running.incarnation > c.incarnation) {
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
      }
      this.opts.metrics.inc('fleetforge_agent_commands_total', { kind: c.kind, outcome: 'ok' });
      this.opts.metrics.set('fleetforge_agent_cells', this.opts.driver.list().length, {
        driver: this.opts.driver.name,
      });
      log.info({ incarnation: c.incarnation }, 'command executed');
    } catch (err) {
      this.opts.metrics.inc('fleetforge_agent_commands_total', { kind: c.kind, outcome: 'error' });
      log.error({ err: String(err) }, 'command failed; it will be delivered again');
      throw err;
    }
  }

  private tombstone(world: string, cell: string, incarnation: number): void {
    if (this.tombstones.size >= Agent.MAX_TOMBSTONES) this.tombstones.clear();
    this.tombstones.add(`${world}/${cell}#${incarnation}`);
  }

  private running(world: string, cell: string) {
    return this.opts.driver.list().find((r) => r.world === world && r.cell === cell);
  }

  /**
   * Asks the source cell to hand its sessions to the targets, then reports how many
   * it has handed over. A source that is gone has nothing left to hand over, which
   * is reported too, so the operation can move on (its sessions died with it).
   */
  private async handoff(c: Extract<AgentCommand, { kind: 'handoff' }>, log: Logger): Promise<void> {
    const result = await this.opts.driver.handoff(c.world, c.cell, c.incarnation, {
      epoch: c.epoch,
      targets: c.targets,
    });
    if (!result) {
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
    log.info({ operation: c.operation, moved: result.moved, byTarget: result.byTarget }, 'sessions handed off');
    await this.report({ ...ref(c), kind: 'handedOff', operation: c.operation, moved: result.moved });
  }

  private async onDriverEvent(e: DriverEvent): Promise<void> {
    if (e.kind === 'sample') {
      const list = this.samples.get(e.world) ?? [];
      list.push({
        cell: e.cell,
        incarnation: e.incarnation,
        at: e.at,
        sessions: e.sessions,
        cpuMillis: e.cpuMillis,
        memoryMiB: e.memoryMiB,
        ...(e.hist ? { hist: e.hist } : {}),
      });
      this.samples.set(e.world, list);
      return;
    }
    const base = { world: e.world, cell: e.cell, incarnation: e.incarnation, correlationId: e.correlationId };
    if (e.kind === 'started') await this.report({ ...base, kind: 'started' });
    else if (e.kind === 'ready') await this.report({ ...base, kind: 'ready', endpoint: e.endpoint });
    else {
      await this.report({ ...base, kind: e.requested ? 'stopped' : 'exited', exitCode: e.exitCode, reason: e.reason });
    }
    this.opts.metrics.set('fleetforge_agent_cells', this.opts.driver.list().length, { driver: this.opts.driver.name });
  }

  private async report(r: Omit<z.input<typeof AgentReportSchema>, 'agentId' | 'at'>): Promise<void> {
    const report = AgentReportSchema.parse({ agentId: this.opts.agentId, at: new Date().toISOString(), ...r });
    try {
      await this.opts.bus.publish(TOPICS.agentReports, report, {
        world: report.world,
        correlationId: report.correlationId,
      });
    } catch (err) {
      // Level-based recovery covers a lost report: the reconciler re-sends the command and we re-announce.
      this.opts.log.warn({ err: String(err), cell: report.cell, kind: report.kind }, 'report publish failed');
    }
  }

  /** One `cell-metrics` message per world per tick: bounded traffic whatever the cell count. */
  private async relay(): Promise<void> {
    const batches = [...this.samples];
    this.samples.clear();
    await Promise.all(
      batches.map(async ([world, samples]) => {
        for (let i = 0; i < samples.length; i += 256) {
          await this.opts.bus
            .publish(
              TOPICS.cellMetrics,
              { world, agentId: this.opts.agentId, samples: samples.slice(i, i + 256) },
              { world },
            )
            .catch((err: unknown) =>
              this.opts.log.warn({ err: String(err), world }, 'metrics relay failed; samples dropped'),
            );
        }
      }),
    );
  }

  async stop(): Promise<void> {
    if (this.relayTimer) clearInterval(this.relayTimer);
    await this.subscription?.close();
    await this.opts.driver.close();
    await Promise.allSettled([...this.pending]);
    await this.relay();
  }
}
