import {
  tenantNamespace,
  type KubeObject,
  type TenantCommand,
  type TenantObservation,
  type TenantSpec,
} from '@fleetforge/shared';
import type { KubernetesObjectApi } from '@kubernetes/client-node';
import type { ObservedNamespace, Report, TenantExecutor } from './executor';
import * as context from './tiers/context';
import * as dedicated from './tiers/dedicated';
import * as dev from './tiers/dev';
import { TenantObserver } from './tiers/observe';
import * as standard from './tiers/standard';
import * as upgrade from './tiers/upgrade';

export type { ObservedNamespace, ProgressInput, Report, TenantExecutor } from './executor';
export { describe, type KubeTenantExecutorOptions } from './tiers/context';
export { cpuMillis, memoryMiB } from './tiers/resources';
export { exportable } from './tiers/upgrade';

/**
 * Tenancy on a real Kubernetes API: dev namespaces (tiers/dev), standard
 * vclusters (tiers/standard), dedicated pools (tiers/dedicated), and the
 * dev→standard upgrade (tiers/upgrade). Every step is an idempotent apply
 * (server-side apply by name) or a read, so a repeated command converges to
 * the same place.
 */
export class KubeTenantExecutor implements TenantExecutor {
  private readonly ctx: context.TierContext;
  private readonly observer: TenantObserver;

  constructor(o: context.KubeTenantExecutorOptions) {
    this.ctx = context.tierContext(o);
    this.observer = new TenantObserver(this.ctx);
  }

  async execute(cmd: TenantCommand, report: Report): Promise<void> {
    const started = Date.now();
    const spec = cmd.spec;
    try {
      if (cmd.action === 'delete') {
        await report({ phase: 'Deleting', message: 'decommissioning' });
        await this.decommission(spec);
        await report({ phase: 'Deleted', message: 'namespaces removed, reserved nodes released' });
        return;
      }
      if (cmd.action === 'upgrade') {
        await upgrade.upgrade(this.ctx, cmd, report);
        return;
      }
      await report({ phase: 'Provisioning', message: `provisioning ${spec.tier} tier` });
      if (spec.tier === 'dev') {
        await this.provisionDev(spec);
        await report({
          phase: 'Ready',
          message: 'namespace with quota, limits and default-deny network policy',
          namespace: tenantNamespace(spec.name),
          readyMs: Date.now() - started,
        });
      } else if (spec.tier === 'standard') {
        const vc = await this.provisionStandard(spec);
        await report({
          phase: 'Ready',
          message: `vcluster ${spec.name} serving (health ${vc.health})`,
          readyMs: Date.now() - started,
          ...standard.servedBy(spec.name, vc, 'vcluster control plane'),
        });
      } else {
        const nodes = await this.provisionDedicated(spec);
        await report({
          phase: 'Ready',
          message: `${nodes.length} node(s) reserved`,
          namespace: tenantNamespace(spec.name),
          readyMs: Date.now() - started,
          placement: { nodes, namespace: tenantNamespace(spec.name), reason: 'dedicated pool' },
        });
      }
    } catch (err) {
      this.ctx.log('tenant command failed', { tenant: spec.name, action: cmd.action, err: String(err) });
      await report({ phase: 'Failed', message: `${cmd.action} failed: ${context.describe(err)}` });
    }
  }

  /* ---------- the tiers, one module each ---------- */

  provisionDev(spec: TenantSpec, timeoutMs?: number): Promise<void> {
    return dev.provisionDev(this.ctx, spec, timeoutMs);
  }

  provisionStandard(spec: TenantSpec, timeoutMs?: number): Promise<standard.Vcluster> {
    return standard.provisionStandard(this.ctx, spec, timeoutMs);
  }

  provisionDedicated(spec: TenantSpec): Promise<string[]> {
    return dedicated.provisionDedicated(this.ctx, spec);
  }

  decommission(spec: TenantSpec): Promise<void> {
    return dedicated.decommission(this.ctx, spec);
  }

  /** The tenant's own objects in a namespace (what `kubectl get -o yaml` would export), ready to reapply. */
  exportNamespace(ns: string): Promise<KubeObject[]> {
    return upgrade.exportNamespace(this.ctx, ns);
  }

  /* ---------- plumbing ---------- */

  apply(objs: readonly KubeObject[], api?: KubernetesObjectApi): Promise<void> {
    return this.ctx.apply(objs, api);
  }

  bindAgent(ns: string): Promise<void> {
    return context.bindAgent(this.ctx, ns);
  }

  deleteNamespace(ns: string, timeoutMs?: number): Promise<void> {
    return context.deleteNamespace(this.ctx, ns, timeoutMs);
  }

  /* ---------- observation ---------- */

  watch(listener: (tenant: string, obs: TenantObservation) => void): void {
    this.observer.watch(listener);
  }

  /** One pass: pool status per dedicated tenant, usage per tenant namespace. */
  sample(): Promise<void> {
    return this.observer.sample();
  }

  observed(): ObservedNamespace[] {
    return this.observer.observed();
  }

  close(): Promise<void> {
    return this.observer.close();
  }
}
