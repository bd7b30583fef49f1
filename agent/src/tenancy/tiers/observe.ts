import { Watch, type V1Pod } from '@kubernetes/client-node';
import {
  LABELS,
  TierSchema,
  type PoolStatus,
  type QuotaWarning,
  type TenantObservation,
  type TenantUsage,
} from '@fleetforge/shared';
import type { ObservedNamespace } from '../executor';
import type { TierContext } from './context';
import { cpuMillis, live, memoryMiB, nodeReady, podReady, sumRequests } from './resources';
import { vclusterProbe } from './standard';

type Listener = (tenant: string, obs: TenantObservation) => void;

/**
 * Samples pools and usage every `sampleMs` (what the billing meter reads through
 * `observed`) and turns quota rejections into warnings, for every listener.
 */
export class TenantObserver {
  private readonly listeners: Listener[] = [];
  private timer: NodeJS.Timeout | undefined;
  private eventAbort: AbortController | undefined;
  private readonly seenWarnings = new Set<string>();
  /** By namespace, from the latest sample; a namespace gone from the cluster is gone from here. */
  private lastSeen = new Map<string, ObservedNamespace>();
  private closed = false;
  private readonly sampleMs: number;

  constructor(private readonly ctx: TierContext) {
    this.sampleMs = ctx.o.sampleMs ?? 5000;
  }

  watch(listener: Listener): void {
    this.listeners.push(listener);
    if (this.timer) return;
    const tick = () =>
      void this.sample().catch((err: unknown) => this.ctx.log('tenant sample failed', { err: String(err) }));
    this.timer = setInterval(tick, this.sampleMs);
    tick();
    void this.watchQuotaEvents();
  }

  private emit(tenant: string, obs: TenantObservation): void {
    for (const l of this.listeners) l(tenant, obs);
  }

  /** One pass: pool status per dedicated tenant, usage per tenant namespace. */
  async sample(): Promise<void> {
    const { core } = this.ctx;
    const at = new Date().toISOString();
    const [nodes, pods, namespaces] = await Promise.all([
      core.listNode({ labelSelector: `${LABELS.pool}=dedicated` }),
      core.listPodForAllNamespaces({}),
      core.listNamespace({ labelSelector: LABELS.tenant }),
    ]);
    const onNode = new Map<string, V1Pod[]>();
    for (const p of pods.items.filter(live)) {
      const node = p.spec?.nodeName;
      if (!node) continue;
      const here = onNode.get(node) ?? [];
      here.push(p);
      onNode.set(node, here);
    }
    const pools = new Map<string, PoolStatus['nodes']>();
    for (const n of nodes.items) {
      const tenant = n.metadata?.labels?.[LABELS.tenant];
      if (!tenant) continue;
      const req = sumRequests(onNode.get(n.metadata!.name!) ?? []);
      const list = pools.get(tenant) ?? [];
      list.push({
        name: n.metadata!.name!,
        ready: nodeReady(n),
        cpuMillis: cpuMillis(n.status?.allocatable?.cpu),
        memoryMiB: memoryMiB(n.status?.allocatable?.memory),
        requestedCpuMillis: req.cpu,
        requestedMemoryMiB: req.mem,
      });
      pools.set(tenant, list);
    }
    for (const [tenant, list] of pools) this.emit(tenant, { kind: 'pool', pool: { at, nodes: list } });
    const seen = new Map<string, ObservedNamespace>();
    for (const ns of namespaces.items) {
      const tenant = ns.metadata?.labels?.[LABELS.tenant];
      if (!tenant) continue;
      const name = ns.metadata?.name ?? '';
      const mine = pods.items.filter((p) => p.metadata?.namespace === name && live(p));
      const requested = sumRequests(mine);
      const usage: TenantUsage = {
        at,
        pods: mine.length,
        runningPods: mine.filter(podReady).length,
        cpuRequestMillis: requested.cpu,
        memoryRequestMiB: requested.mem,
      };
      const vcluster = await vclusterProbe(this.ctx, name, tenant);
      const tier = TierSchema.safeParse(ns.metadata?.labels?.[LABELS.tier]);
      if (tier.success) {
        // Healthy without a break: healthy at the previous sample too, and that sample recent
        // (samples that failed in between saw nothing, so the run starts again).
        const now = Date.parse(at);
        const prev = this.lastSeen.get(name);
        const since = prev && now - prev.at <= 3 * this.sampleMs ? prev.vcluster?.healthySince : null;
        seen.set(name, {
          tenant,
          tier: tier.data,
          namespace: name,
          at: now,
          pods: usage.pods,
          cpuRequestMillis: usage.cpuRequestMillis,
          memoryRequestMiB: usage.memoryRequestMiB,
          vcluster: vcluster && { ...vcluster, healthySince: vcluster.healthy ? (since ?? now) : null },
        });
      }
      this.emit(tenant, { kind: 'usage', usage, vcluster });
    }
    this.lastSeen = seen;
  }

  observed(): ObservedNamespace[] {
    return [...this.lastSeen.values()];
  }

  /** Quota rejections of controller-created pods surface as FailedCreate events; each becomes a QuotaExceeded warning. */
  private async watchQuotaEvents(): Promise<void> {
    if (this.closed) return;
    const w = new Watch(this.ctx.o.kubeconfig);
    const again = (ms: number) => setTimeout(() => void this.watchQuotaEvents(), ms);
    try {
      this.eventAbort = await w.watch(
        '/api/v1/events',
        { fieldSelector: 'reason=FailedCreate' },
        (
          type,
          ev: {
            metadata?: { uid?: string; namespace?: string };
            message?: string;
            count?: number;
            involvedObject?: { kind?: string; name?: string };
          },
        ) => {
          if (type === 'DELETED' || !ev.message?.includes('exceeded quota')) return;
          const ns = ev.metadata?.namespace ?? '';
          if (!ns.startsWith('tenant-')) return;
          const key = `${ev.metadata?.uid}/${ev.count ?? 1}`;
          if (this.seenWarnings.has(key)) return;
          this.seenWarnings.add(key);
          const warning: QuotaWarning = {
            reason: 'QuotaExceeded',
            namespace: ns,
            object: `${ev.involvedObject?.kind ?? 'Object'}/${ev.involvedObject?.name ?? '?'}`,
            message: ev.message,
            at: new Date().toISOString(),
          };
          void this.tenantOf(ns).then((tenant) => tenant && this.emit(tenant, { kind: 'warning', warning }));
        },
        (err) => {
          if (this.closed) return;
          if (err) this.ctx.log('event watch ended', { err: String(err) });
          again(1000);
        },
      );
    } catch (err) {
      this.ctx.log('event watch failed', { err: String(err) });
      again(2000);
    }
  }

  private async tenantOf(ns: string): Promise<string | undefined> {
    try {
      const n = await this.ctx.core.readNamespace({ name: ns });
      return n.metadata?.labels?.[LABELS.tenant];
    } catch {
      return undefined;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.eventAbort?.abort();
  }
}
