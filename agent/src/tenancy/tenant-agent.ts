import {
  TOPICS,
  TenantCommandSchema,
  TenantObservationSchema,
  parseOrThrow,
  subscriptionFor,
  type Bus,
  type MetricsSink,
  type SubscriptionHandle,
  type TenantCommand,
  type TenantObservation,
} from '@fleetforge/shared';
import type { Logger } from '@fleetforge/functions/adapters';
import type { ObservedNamespace, ProgressInput, TenantExecutor } from './executor';

/** The message the process driver's agent answers every tenant command with. */
export const KUBERNETES_REQUIRED =
  'tenants need the Kubernetes tier: run `npm run kube:up`, then restart the stack with `npm start -- --driver kubernetes`';

/** Answers every command with Unavailable: this agent runs cells as local processes and has no cluster. */
export class NoClusterExecutor implements TenantExecutor {
  async execute(_cmd: TenantCommand, report: (p: ProgressInput) => Promise<void>): Promise<void> {
    await report({ phase: 'Unavailable', message: KUBERNETES_REQUIRED });
  }
  watch(): void {
    // nothing to observe without a cluster
  }
  observed(): ObservedNamespace[] {
    // No cluster, no tenant namespaces and no vclusters: nothing to meter but the cells.
    return [];
  }
  async close(): Promise<void> {}
}

export interface TenantAgentOptions {
  agentId: string;
  bus: Bus;
  executor: TenantExecutor;
  log: Logger;
  metrics: MetricsSink;
}

/**
 * Takes tenant commands off `tenant-commands`, runs them one tenant at a time
 * through the executor, and sends what it observes to `tenant-requests`.
 */
export class TenantAgent {
  private subscription: SubscriptionHandle | undefined;
  private readonly running = new Map<string, Promise<void>>();
  /** Last generation finished per tenant: a redelivered command is answered without redoing it. */
  private readonly done = new Map<string, { generation: number; action: string }>();

  constructor(private readonly o: TenantAgentOptions) {}

  start(): void {
    const sub = subscriptionFor('agent-tenants');
    this.subscription = this.o.bus.subscribe(
      sub.name,
      async (m) => {
        let cmd: TenantCommand;
        try {
          cmd = parseOrThrow(TenantCommandSchema, m.data, 'tenant command');
        } catch (err) {
          this.o.log.error({ messageId: m.id, reason: (err as Error).message }, 'poison tenant command dropped');
          this.o.metrics.inc('fleetforge_agent_commands_total', { kind: 'tenant', outcome: 'poison' });
          return;
        }
        await this.handle(cmd);
      },
      (err) => this.o.log.error({ err: err.message, subscription: sub.name }, 'tenant command subscription error'),
    );
    this.o.executor.watch(
      (tenant, obs) => void this.publish(tenant, obs, `${obs.kind}-${tenant}-${Date.now().toString(36)}`),
    );
  }

  /** Serialized per tenant: an upgrade and a delete for one tenant never interleave. */
  async handle(cmd: TenantCommand): Promise<void> {
    const prev = this.running.get(cmd.tenant) ?? Promise.resolve();
    const next = prev.then(() => this.run(cmd));
    this.running.set(
      cmd.tenant,
      next.catch(() => undefined),
    );
    await next;
  }

  private async run(cmd: TenantCommand): Promise<void> {
    const last = this.done.get(cmd.tenant);
    if (last && last.generation > cmd.generation) {
      this.o.log.info({ tenant: cmd.tenant, generation: cmd.generation }, 'stale tenant command ignored');
      return;
    }
    const log = this.o.log.child({ tenant: cmd.tenant, action: cmd.action, correlationId: cmd.correlationId });
    log.info({ generation: cmd.generation, tier: cmd.spec.tier }, 'tenant command');
    this.o.metrics.inc('fleetforge_agent_commands_total', { kind: `tenant-${cmd.action}`, outcome: 'ok' });
    await this.o.executor.execute(cmd, async (p) => {
      const obs = TenantObservationSchema.parse({ kind: 'progress', generation: cmd.generation, ...p });
      await this.publish(cmd.tenant, obs, cmd.correlationId);
    });
    this.done.set(cmd.tenant, { generation: cmd.generation, action: cmd.action });
  }

  private async publish(tenant: string, observation: TenantObservation, correlationId: string): Promise<void> {
    try {
      await this.o.bus.publish(
        TOPICS.tenantRequests,
        { kind: 'observed', tenant, agentId: this.o.agentId, at: new Date().toISOString(), correlationId, observation },
        { tenant },
      );
    } catch (err) {
      this.o.log.error({ tenant, err: String(err) }, 'could not publish tenant observation');
      if (observation.kind === 'progress') throw err; // redelivery re-runs the (idempotent) command
    }
  }

  async stop(): Promise<void> {
    await this.subscription?.close();
    await Promise.all(this.running.values());
    await this.o.executor.close();
  }
}
