import { randomBytes } from 'node:crypto';
import { request } from 'node:https';
import {
  AppsV1Api,
  AuthorizationV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  Watch,
  type KubernetesObject,
  type V1Node,
  type V1Pod,
} from '@kubernetes/client-node';
import {
  DEFAULT_AGENT_SUBJECT,
  LABELS,
  TENANT_TAINT_KEY,
  agentTenantRoleBinding,
  UNASSIGNED_POOL,
  dedicatedTenantObjects,
  devTenantObjects,
  reservedNodeShape,
  standardTenantObjects,
  tenantNamespace,
  vclusterNamespace,
  type AgentSubject,
  type KubeObject,
  type PoolStatus,
  type QuotaWarning,
  type TenantCommand,
  type TenantObservation,
  type TenantSpec,
  type TenantUsage,
  type TenantObservationSchema,
  type Tier,
  TierSchema,
} from '@fleetforge/shared';
import type { z } from 'zod';

/** A progress observation as the executor states it; the tenant agent adds the generation and defaults. */
export type ProgressInput = Omit<
  Extract<z.input<typeof TenantObservationSchema>, { kind: 'progress' }>,
  'kind' | 'generation'
>;

/** What the latest sample saw of one tenant namespace: what the usage meter bills from. */
export interface ObservedNamespace {
  tenant: string;
  /** From the namespace's `fleetforge.dev/tier` label (a dev tenant's namespace stays dev during an upgrade). */
  tier: Tier;
  namespace: string;
  /** When it was sampled (epoch ms). */
  at: number;
  /** Pods not finished, and the sum of their requests. */
  pods: number;
  cpuRequestMillis: number;
  memoryRequestMiB: number;
  /**
   * Standard tier: its vcluster as the probe found it, and since when it has answered
   * healthy without a break (the first healthy probe of the current run; null while not
   * healthy). Null for other tiers, or one not provisioned yet.
   */
  vcluster: { server: string; healthy: boolean; healthySince: number | null } | null;
}

export interface TenantExecutor {
  /** Converges the tenant to the command; `report` hears progress (the last report is terminal). */
  execute(cmd: TenantCommand, report: (p: ProgressInput) => Promise<void>): Promise<void>;
  /** Pool and usage samples, and quota warnings, as they are observed. */
  watch(listener: (tenant: string, obs: TenantObservation) => void): void;
  /** Every tenant namespace as the latest sample saw it (sampling starts with `watch`). */
  observed(): ObservedNamespace[];
  close(): Promise<void>;
}

const code = (err: unknown) => (err as { code?: number }).code;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Parses Kubernetes quantities (`500m`, `2`, `128Mi`, `1Gi`) into millicores or MiB. */
export function cpuMillis(q: string | undefined): number {
  if (!q) return 0;
  if (q.endsWith('m')) return Number(q.slice(0, -1));
  return Number(q) * 1000;
}

export function memoryMiB(q: string | undefined): number {
  if (!q) return 0;
  const units: Record<string, number> = {
    Ki: 1 / 1024,
    Mi: 1,
    Gi: 1024,
    Ti: 1024 * 1024,
    k: 1000 / 1048576,
    M: 1e6 / 1048576,
    G: 1e9 / 1048576,
  };
  const m = /^([0-9.]+)([A-Za-z]*)$/.exec(q);
  if (!m) return 0;
  const unit = m[2] ?? '';
  return Number(m[1]) * (unit === '' ? 1 / 1048576 : (units[unit] ?? 0));
}

function podRequests(pod: V1Pod): { cpu: number; mem: number } {
  let cpu = 0;
  let mem = 0;
  for (const c of pod.spec?.containers ?? []) {
    cpu += cpuMillis(c.resources?.requests?.cpu);
    mem += memoryMiB(c.resources?.requests?.memory);
  }
  return { cpu, mem };
}

const live = (p: V1Pod) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed';
const podReady = (p: V1Pod) =>
  live(p) &&
  !p.metadata?.deletionTimestamp &&
  (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/** Strips what the server owns, so an exported object can be applied elsewhere. */
export function exportable(obj: KubernetesObject & Record<string, unknown>): KubeObject {
  const md = obj.metadata ?? {};
  const annotations = Object.fromEntries(
    Object.entries(md.annotations ?? {}).filter(
      ([k]) => !k.startsWith('kubectl.kubernetes.io/') && !k.startsWith('deployment.kubernetes.io/'),
    ),
  );
  const out: KubeObject = {
    ...obj,
    apiVersion: obj.apiVersion!,
    kind: obj.kind!,
    metadata: { name: md.name!, labels: md.labels ?? {}, annotations },
  };
  delete out.status;
  if (out.kind === 'Service' && out.spec && typeof out.spec === 'object') {
    const { clusterIP: _ip, clusterIPs: _ips, ...spec } = out.spec as Record<string, unknown>;
    out.spec = spec;
  }
  return out;
}

export interface KubeTenantExecutorOptions {
  kubeconfig: KubeConfig;
  /** How often pool and usage are sampled. */
  sampleMs?: number;
  readyTimeoutMs?: number;
  /** The service account the agent runs as: it binds itself in each tenant namespace it creates. */
  agent?: AgentSubject;
  log?: (msg: string, data?: Record<string, unknown>) => void;
}

/**
 * Tenancy on a real Kubernetes API: dev namespaces, standard vclusters,
 * dedicated pools, and the dev→standard upgrade. Every step is an idempotent
 * apply (server-side apply by name) or a read, so a repeated command converges
 * to the same place.
 */
export class KubeTenantExecutor implements TenantExecutor {
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private readonly objects: KubernetesObjectApi;
  private readonly authz: AuthorizationV1Api;
  private readonly listeners: Array<(tenant: string, obs: TenantObservation) => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private eventAbort: AbortController | undefined;
  private readonly seenWarnings = new Set<string>();
  /** By namespace, from the latest sample; a namespace gone from the cluster is gone from here. */
  private lastSeen = new Map<string, ObservedNamespace>();
  private closed = false;
  private readonly log: NonNullable<KubeTenantExecutorOptions['log']>;

  constructor(private readonly o: KubeTenantExecutorOptions) {
    this.core = o.kubeconfig.makeApiClient(CoreV1Api);
    this.apps = o.kubeconfig.makeApiClient(AppsV1Api);
    this.objects = KubernetesObjectApi.makeApiClient(o.kubeconfig);
    this.authz = o.kubeconfig.makeApiClient(AuthorizationV1Api);
    this.log = o.log ?? (() => undefined);
  }

  /* ---------- apply ---------- */

  async apply(objs: readonly KubeObject[], api: KubernetesObjectApi = this.objects): Promise<void> {
    for (const obj of objs) {
      await api.patch(obj, undefined, undefined, 'fleetforge', true, PatchStrategy.ServerSideApply);
      // On the host cluster the agent holds no rights inside a namespace until it binds itself there.
      if (obj.kind === 'Namespace' && api === this.objects) await this.bindAgent(obj.metadata.name);
    }
  }

  /**
   * Binds the agent to its tenant ClusterRole in `ns` (agent/deploy/rbac.yaml). A plain
   * create, not an apply: outside a tenant namespace that is all the agent may do with
   * role bindings. Then waits until the authorizer honours the binding (its cache lags).
   */
  async bindAgent(ns: string): Promise<void> {
    try {
      await this.objects.create(agentTenantRoleBinding(ns, this.o.agent ?? DEFAULT_AGENT_SUBJECT));
    } catch (err) {
      if (code(err) !== 409) throw err;
    }
    await this.until(`the agent's role binding in ${ns}`, 10_000, async () => {
      const review = await this.authz.createSelfSubjectAccessReview({
        body: { spec: { resourceAttributes: { namespace: ns, verb: 'patch', resource: 'resourcequotas' } } },
      });
      return review.status?.allowed === true;
    });
  }

  async execute(cmd: TenantCommand, report: (p: ProgressInput) => Promise<void>): Promise<void> {
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
        await this.upgrade(cmd, report);
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
          namespace: vclusterNamespace(spec.name),
          readyMs: Date.now() - started,
          vcluster: { server: vc.server, healthy: vc.health === 200 },
          kubeconfig: vc.kubeconfig,
          placement: { nodes: vc.nodes, namespace: vclusterNamespace(spec.name), reason: 'vcluster control plane' },
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
      this.log('tenant command failed', { tenant: spec.name, action: cmd.action, err: String(err) });
      await report({ phase: 'Failed', message: `${cmd.action} failed: ${describe(err)}` });
    }
  }

  /* ---------- dev ---------- */

  async provisionDev(spec: TenantSpec, timeoutMs = this.o.readyTimeoutMs ?? 60_000): Promise<void> {
    await this.apply(devTenantObjects(spec));
    const ns = tenantNamespace(spec.name);
    // Ready when the quota controller has computed usage: from then on admission enforces it.
    await this.until(`quota of ${ns}`, timeoutMs, async () => {
      const q = await this.core.readNamespacedResourceQuota({ name: 'tenant-quota', namespace: ns });
      return q.status?.hard !== undefined && q.status.used !== undefined;
    });
  }

  /* ---------- standard ---------- */

  async provisionStandard(
    spec: TenantSpec,
    timeoutMs = this.o.readyTimeoutMs ?? 90_000,
  ): Promise<{ server: string; kubeconfig: string; health: number; nodes: string[] }> {
    const ns = vclusterNamespace(spec.name);
    let token = randomBytes(24).toString('hex');
    // The namespace (and the agent's binding in it) first: only then may the agent read its secrets.
    await this.apply(standardTenantObjects({ ...spec, tier: 'standard' }, token).filter((o) => o.kind === 'Namespace'));
    try {
      const existing = await this.core.readNamespacedSecret({ name: `vc-${spec.name}-token`, namespace: ns });
      const t = existing.data?.token;
      if (t) token = Buffer.from(t, 'base64').toString('utf8');
    } catch (err) {
      if (code(err) !== 404) throw err;
    }
    await this.apply(standardTenantObjects({ ...spec, tier: 'standard' }, token));
    let pod: V1Pod | undefined;
    await this.until(`vcluster ${spec.name} pod ready`, timeoutMs, async () => {
      const pods = await this.core.listNamespacedPod({
        namespace: ns,
        labelSelector: `app=vcluster,release=${spec.name}`,
      });
      pod = pods.items.find(podReady);
      return pod !== undefined;
    });
    let kubeconfig = '';
    let server = '';
    await this.until(`vcluster ${spec.name} kubeconfig secret`, timeoutMs, async () => {
      try {
        const s = await this.core.readNamespacedSecret({ name: `vc-${spec.name}`, namespace: ns });
        kubeconfig = Buffer.from(s.data?.config ?? '', 'base64').toString('utf8');
        server = Buffer.from(s.data?.server ?? '', 'base64').toString('utf8');
        return kubeconfig.length > 0;
      } catch (err) {
        if (code(err) === 404) return false;
        throw err;
      }
    });
    const health = await vclusterHealth(server, token);
    if (health !== 200) throw new Error(`vcluster ${spec.name} health endpoint answered ${health}`);
    return { server, kubeconfig, health, nodes: pod?.spec?.nodeName ? [pod.spec.nodeName] : [] };
  }

  /* ---------- dedicated ---------- */

  async provisionDedicated(spec: TenantSpec): Promise<string[]> {
    const mine = await this.core.listNode({ labelSelector: `${LABELS.tenant}=${spec.name}` });
    const have = mine.items.map((n) => n.metadata!.name!);
    const need = spec.poolNodes - have.length;
    if (need > 0) {
      const spare = await this.core.listNode({ labelSelector: `${LABELS.pool}=${UNASSIGNED_POOL}` });
      const free = spare.items
        .filter((n) => isReady(n))
        .map((n) => n.metadata!.name!)
        .sort();
      if (free.length < need) {
        throw new Error(`the dedicated tier needs ${need} more unassigned node(s); ${free.length} free`);
      }
      for (const name of free.slice(0, need)) {
        await this.updateNode(name, (n) => reserve(n, spec.name));
        have.push(name);
      }
    }
    await this.apply(dedicatedTenantObjects(spec));
    return have.sort();
  }

  private async updateNode(name: string, change: (n: V1Node) => V1Node): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const cur = await this.core.readNode({ name });
      try {
        await this.core.replaceNode({ name, body: change(cur) });
        return;
      } catch (err) {
        if (code(err) !== 409) throw err;
      }
    }
    throw new Error(`node ${name}: too many update conflicts`);
  }

  /* ---------- delete ---------- */

  async decommission(spec: TenantSpec): Promise<void> {
    await Promise.all([tenantNamespace(spec.name), vclusterNamespace(spec.name)].map((ns) => this.deleteNamespace(ns)));
    const mine = await this.core.listNode({ labelSelector: `${LABELS.tenant}=${spec.name}` });
    for (const n of mine.items) await this.updateNode(n.metadata!.name!, release);
  }

  async deleteNamespace(ns: string, timeoutMs = 120_000): Promise<void> {
    try {
      await this.core.deleteNamespace({ name: ns });
    } catch (err) {
      if (code(err) === 404) return;
      throw err;
    }
    await this.until(`namespace ${ns} gone`, timeoutMs, async () => {
      try {
        await this.core.readNamespace({ name: ns });
        return false;
      } catch (err) {
        if (code(err) === 404) return true;
        throw err;
      }
    });
  }

  /* ---------- upgrade dev → standard ---------- */

  /**
   * Make-before-break: the dev namespace keeps serving until the same workloads
   * run inside the new vcluster; only then is it decommissioned. A failure at
   * any step removes the half-built vcluster and leaves the dev tenant as it was.
   */
  private async upgrade(cmd: TenantCommand, report: (p: ProgressInput) => Promise<void>): Promise<void> {
    const spec = cmd.spec;
    const devNs = tenantNamespace(spec.name);
    let step = 'export';
    const started = (s: string) =>
      report({
        phase: 'Upgrading',
        message: `upgrade: ${s}`,
        upgrade: { outcome: 'Started', step: s, downtimeMs: null, workloads: 0 },
      });
    const monitor = new AvailabilityMonitor(this.core, devNs);
    try {
      await started(step);
      const exported = await this.exportNamespace(devNs);
      const deployments = exported.filter((o) => o.kind === 'Deployment').map((o) => o.metadata.name);
      monitor.start(deployments);

      step = 'provision';
      await started(step);
      const vc = await this.provisionStandard({ ...spec, tier: 'standard' });
      if (cmd.failAt === 'provision') throw new Error('injected failure after provisioning the vcluster');
      const virtual = new KubeConfig();
      virtual.loadFromString(vc.kubeconfig);
      const vapi = KubernetesObjectApi.makeApiClient(virtual);
      const vapps = virtual.makeApiClient(AppsV1Api);
      monitor.virtual(vapps);

      step = 'reapply';
      await started(step);
      await this.apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: devNs } }], vapi);
      const inVc = exported.map((o) => ({ ...o, metadata: { ...o.metadata, namespace: devNs } }));
      if (cmd.failAt === 'reapply') {
        await this.apply(inVc.slice(0, Math.ceil(inVc.length / 2)), vapi);
        throw new Error('injected failure halfway through reapplying workloads');
      }
      await this.apply(inVc, vapi);

      step = 'validate';
      await started(step);
      if (cmd.failAt === 'validate') throw new Error('injected failure while validating workloads in the vcluster');
      await this.until('workloads available in the vcluster', this.o.readyTimeoutMs ?? 120_000, async () => {
        for (const d of deployments) {
          const dep = await vapps.readNamespacedDeployment({ name: d, namespace: devNs });
          const want = dep.spec?.replicas ?? 1;
          if ((dep.status?.availableReplicas ?? 0) < want) return false;
        }
        return true;
      });

      step = 'decommission';
      await started(step);
      await this.deleteNamespace(devNs);
      const downtimeMs = await monitor.stop();
      await report({
        phase: 'Ready',
        message: `upgraded to standard: ${exported.length} object(s), ${deployments.length} deployment(s) running in vcluster ${spec.name}; dev namespace decommissioned`,
        namespace: vclusterNamespace(spec.name),
        vcluster: { server: vc.server, healthy: vc.health === 200 },
        kubeconfig: vc.kubeconfig,
        placement: { nodes: vc.nodes, namespace: vclusterNamespace(spec.name), reason: 'upgrade from dev' },
        upgrade: { outcome: 'Completed', step: 'done', downtimeMs, workloads: exported.length },
      });
    } catch (err) {
      await monitor.stop();
      this.log('upgrade failed; rolling back', { tenant: spec.name, step, err: String(err) });
      let rollback = 'vcluster removed';
      try {
        await this.deleteNamespace(vclusterNamespace(spec.name));
      } catch (e) {
        rollback = `vcluster removal failed: ${describe(e)}`;
      }
      await report({
        phase: 'Ready',
        message: `upgrade failed at ${step}: ${describe(err)}; ${rollback}; the dev namespace keeps serving`,
        namespace: devNs,
        upgrade: { outcome: 'Failed', step, downtimeMs: null, workloads: 0 },
      });
    }
  }

  /** The tenant's own objects in a namespace (what `kubectl get -o yaml` would export), ready to reapply. */
  async exportNamespace(ns: string): Promise<KubeObject[]> {
    const out: KubeObject[] = [];
    const [cms, secrets, services, deployments, statefulsets] = await Promise.all([
      this.core.listNamespacedConfigMap({ namespace: ns }),
      this.core.listNamespacedSecret({ namespace: ns }),
      this.core.listNamespacedService({ namespace: ns }),
      this.apps.listNamespacedDeployment({ namespace: ns }),
      this.apps.listNamespacedStatefulSet({ namespace: ns }),
    ]);
    const tag = <T extends object>(items: T[], apiVersion: string, kind: string) =>
      items.map((i) => exportable({ ...(i as KubernetesObject & Record<string, unknown>), apiVersion, kind }));
    out.push(
      ...tag(
        cms.items.filter((c) => c.metadata?.name !== 'kube-root-ca.crt'),
        'v1',
        'ConfigMap',
      ),
    );
    out.push(
      ...tag(
        secrets.items.filter((s) => s.type === 'Opaque'),
        'v1',
        'Secret',
      ),
    );
    out.push(...tag(services.items, 'v1', 'Service'));
    out.push(...tag(deployments.items, 'apps/v1', 'Deployment'));
    out.push(...tag(statefulsets.items, 'apps/v1', 'StatefulSet'));
    return out;
  }

  /* ---------- observation ---------- */

  watch(listener: (tenant: string, obs: TenantObservation) => void): void {
    this.listeners.push(listener);
    if (this.timer) return;
    const tick = () =>
      void this.sample().catch((err: unknown) => this.log('tenant sample failed', { err: String(err) }));
    this.timer = setInterval(tick, this.o.sampleMs ?? 5000);
    tick();
    void this.watchQuotaEvents();
  }

  private emit(tenant: string, obs: TenantObservation): void {
    for (const l of this.listeners) l(tenant, obs);
  }

  /** One pass: pool status per dedicated tenant, usage per tenant namespace. */
  async sample(): Promise<void> {
    const at = new Date().toISOString();
    const [nodes, pods, namespaces] = await Promise.all([
      this.core.listNode({ labelSelector: `${LABELS.pool}=dedicated` }),
      this.core.listPodForAllNamespaces({}),
      this.core.listNamespace({ labelSelector: LABELS.tenant }),
    ]);
    const byNode = new Map<string, { cpu: number; mem: number }>();
    for (const p of pods.items.filter(live)) {
      const node = p.spec?.nodeName;
      if (!node) continue;
      const r = podRequests(p);
      const cur = byNode.get(node) ?? { cpu: 0, mem: 0 };
      byNode.set(node, { cpu: cur.cpu + r.cpu, mem: cur.mem + r.mem });
    }
    const pools = new Map<string, PoolStatus['nodes']>();
    for (const n of nodes.items) {
      const tenant = n.metadata?.labels?.[LABELS.tenant];
      if (!tenant) continue;
      const req = byNode.get(n.metadata!.name!) ?? { cpu: 0, mem: 0 };
      const list = pools.get(tenant) ?? [];
      list.push({
        name: n.metadata!.name!,
        ready: isReady(n),
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
      const usage: TenantUsage = {
        at,
        pods: mine.length,
        runningPods: mine.filter(podReady).length,
        cpuRequestMillis: mine.reduce((a, p) => a + podRequests(p).cpu, 0),
        memoryRequestMiB: mine.reduce((a, p) => a + podRequests(p).mem, 0),
      };
      const vcluster = await this.vclusterProbe(name, tenant);
      const tier = TierSchema.safeParse(ns.metadata?.labels?.[LABELS.tier]);
      if (tier.success) {
        // Healthy without a break: healthy at the previous sample too, and that sample recent
        // (samples that failed in between saw nothing, so the run starts again).
        const now = Date.parse(at);
        const prev = this.lastSeen.get(name);
        const since = prev && now - prev.at <= 3 * (this.o.sampleMs ?? 5000) ? prev.vcluster?.healthySince : null;
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

  /** A standard tenant's vcluster, probed as its admin would: /readyz with the tenant token. Null for other tiers. */
  private async vclusterProbe(ns: string, tenant: string): Promise<{ server: string; healthy: boolean } | null> {
    if (ns !== vclusterNamespace(tenant)) return null;
    try {
      const s = await this.core.readNamespacedSecret({ name: `vc-${tenant}`, namespace: ns });
      const token = await this.core.readNamespacedSecret({ name: `vc-${tenant}-token`, namespace: ns });
      const server = Buffer.from(s.data?.server ?? '', 'base64').toString('utf8');
      const t = Buffer.from(token.data?.token ?? '', 'base64').toString('utf8');
      return { server, healthy: (await vclusterHealth(server, t)) === 200 };
    } catch {
      return null; // not provisioned yet (or being removed): nothing to say about health
    }
  }

  /** Quota rejections of controller-created pods surface as FailedCreate events; each becomes a QuotaExceeded warning. */
  private async watchQuotaEvents(): Promise<void> {
    if (this.closed) return;
    const w = new Watch(this.o.kubeconfig);
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
          if (err) this.log('event watch ended', { err: String(err) });
          setTimeout(() => void this.watchQuotaEvents(), 1000);
        },
      );
    } catch (err) {
      this.log('event watch failed', { err: String(err) });
      setTimeout(() => void this.watchQuotaEvents(), 2000);
    }
  }

  private async tenantOf(ns: string): Promise<string | undefined> {
    try {
      const n = await this.core.readNamespace({ name: ns });
      return n.metadata?.labels?.[LABELS.tenant];
    } catch {
      return undefined;
    }
  }

  private async until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      try {
        if (await check()) return;
      } catch (err) {
        if (code(err) !== 404) last = describe(err);
      }
      if (Date.now() > deadline)
        throw new Error(`${what}: not within ${Math.round(timeoutMs / 1000)} s${last ? ` (${last})` : ''}`);
      await sleep(250);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.eventAbort?.abort();
  }
}

function isReady(n: V1Node): boolean {
  return (n.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

function reserve(n: V1Node, tenant: string): V1Node {
  const shape = reservedNodeShape(tenant);
  const taints = (n.spec?.taints ?? []).filter((t) => t.key !== LABELS.pool && t.key !== TENANT_TAINT_KEY);
  return {
    ...n,
    metadata: { ...n.metadata, labels: { ...n.metadata?.labels, ...shape.labels } },
    spec: { ...n.spec, taints: [...taints, shape.taint] },
  };
}

function release(n: V1Node): V1Node {
  const labels: Record<string, string> = { ...n.metadata?.labels, [LABELS.pool]: UNASSIGNED_POOL };
  delete labels[LABELS.tenant];
  const taints = (n.spec?.taints ?? []).filter((t) => t.key !== TENANT_TAINT_KEY && t.key !== LABELS.pool);
  return {
    ...n,
    metadata: { ...n.metadata, labels },
    spec: { ...n.spec, taints: [...taints, { key: LABELS.pool, value: UNASSIGNED_POOL, effect: 'NoSchedule' }] },
  };
}

export function describe(err: unknown): string {
  const e = err as { code?: number; body?: unknown; message?: string };
  if (e.code && e.body) {
    const body = typeof e.body === 'string' ? e.body : JSON.stringify(e.body);
    try {
      const parsed = JSON.parse(body) as { message?: string };
      return `HTTP ${e.code}: ${parsed.message ?? body}`;
    } catch {
      return `HTTP ${e.code}: ${body.slice(0, 300)}`;
    }
  }
  return e.message ?? String(err);
}

/** GET /readyz on a vcluster's API server with its admin token; the status code. */
async function vclusterHealth(server: string, token: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      `${server}/readyz`,
      { rejectUnauthorized: false, headers: { authorization: `Bearer ${token}` }, timeout: 3000 },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/**
 * Measures downtime as a user of the workloads would see it: every 100 ms, for
 * each deployment, is any replica ready in the old namespace or available in
 * the vcluster? The longest span with neither, over all deployments, is the
 * upgrade's downtime.
 */
class AvailabilityMonitor {
  private timer: NodeJS.Timeout | undefined;
  private deployments: string[] = [];
  private vapps: AppsV1Api | undefined;
  private readonly downSince = new Map<string, number>();
  private worst = 0;
  private busy = false;

  constructor(
    private readonly core: CoreV1Api,
    private readonly ns: string,
  ) {}

  start(deployments: string[]): void {
    this.deployments = deployments;
    this.timer = setInterval(() => void this.probe(), 100);
  }

  virtual(vapps: AppsV1Api): void {
    this.vapps = vapps;
  }

  private async probe(): Promise<void> {
    if (this.busy || this.deployments.length === 0) return;
    this.busy = true;
    try {
      const now = Date.now();
      const pods = await this.core.listNamespacedPod({ namespace: this.ns }).catch(() => ({ items: [] as V1Pod[] }));
      for (const d of this.deployments) {
        const oldUp = pods.items.some((p) => podReady(p) && p.metadata?.name?.startsWith(`${d}-`));
        let newUp = false;
        if (this.vapps) {
          const dep = await this.vapps.readNamespacedDeployment({ name: d, namespace: this.ns }).catch(() => undefined);
          newUp = (dep?.status?.availableReplicas ?? 0) > 0;
        }
        if (oldUp || newUp) {
          const since = this.downSince.get(d);
          if (since !== undefined) this.worst = Math.max(this.worst, now - since);
          this.downSince.delete(d);
        } else if (!this.downSince.has(d)) {
          this.downSince.set(d, now);
        }
      }
    } finally {
      this.busy = false;
    }
  }

  async stop(): Promise<number> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    while (this.busy) await sleep(20);
    await this.probe();
    const now = Date.now();
    for (const since of this.downSince.values()) this.worst = Math.max(this.worst, now - since);
    return this.worst;
  }
}
