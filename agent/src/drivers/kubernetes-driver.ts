import { createHash } from 'node:crypto';
import {
  CoreV1Api,
  Watch,
  type KubeConfig,
  type V1ConfigMap,
  type V1OwnerReference,
  type V1Pod,
  type V1ResourceRequirements,
} from '@kubernetes/client-node';
import {
  TierSchema,
  sleep,
  type CellRunSpec,
  type CellRuntimeStatus,
  type Driver,
  type DriverEvent,
  type Tier,
  compareGenerations,
  knownGeneration,
} from '@fleetforge/shared';
import { cellEnv } from './cell-env';

export const LABELS = {
  role: 'fleetforge.dev/role',
  world: 'fleetforge.dev/world',
  cell: 'fleetforge.dev/cell',
  tier: 'fleetforge.dev/tier',
  incarnation: 'fleetforge.dev/incarnation',
} as const;
export const ANNOTATIONS = {
  boundary: 'fleetforge.dev/boundary',
  /** Set on a ready pod by whatever runs it (the local tier's node shim); wins over the pod IP. */
  endpoint: 'fleetforge.dev/endpoint',
  correlationId: 'fleetforge.dev/correlation-id',
  /** Whom the cell's usage is billed to (`fleetforge.dev/tier` is the host pool a pod runs on, not this). */
  tenant: 'fleetforge.dev/billed-tenant',
  tenantTier: 'fleetforge.dev/billed-tier',
} as const;
const CELL_SELECTOR = `${LABELS.role}=cell`;
/** The port the cell image listens on (its Dockerfile sets FF_PORT) and the readiness probe asks. */
export const CELL_PORT = 8080;

export interface KubernetesDriverOptions {
  kubeConfig: KubeConfig;
  /** Where cell pods go; created when missing. */
  namespace?: string;
  image?: string;
  sampleMs?: number;
  /** Grace period of a requested stop; the cell drains on SIGTERM within it. */
  stopGraceSeconds?: number;
  /** How long stop() waits for the pod to be gone before giving up. */
  stopTimeoutMs?: number;
  resources?: V1ResourceRequirements;
  /** Extra environment for every cell container (where its sessions are checkpointed, say). */
  env?: Record<string, string>;
  /**
   * How a ready cell is reached: the `fleetforge.dev/endpoint` annotation (the local tier,
   * where pods are loopback processes) or `http://{podIP}:8080` (a real cluster).
   */
  endpointFrom?: 'annotation' | 'podIP';
  log?: (msg: string, data?: Record<string, unknown>) => void;
}

/** One cell pod (one incarnation) as the driver knows it. */
interface CellPod {
  name: string;
  uid: string | undefined;
  world: string;
  cell: string;
  incarnation: number;
  correlationId: string;
  tenant: string | null;
  tier: Tier | null;
  /** The world generation it runs for (null: not known, a pod from before generations). */
  generation: string | null;
  /** Stopped for a newer generation of its world: its exit is not reported (its name now means the new cell). */
  superseded: boolean;
  endpoint: string | null;
  stopRequested: string | null;
  /** Seen in a list or watch: only then can its absence from a list mean it is gone. */
  observed: boolean;
  deleting: boolean;
  emitted: { started: boolean; ready: boolean; exited: boolean };
  gone: Promise<void>;
  markGone: () => void;
  /** Set when the agent kills it after failed probes: reported as a crash, not a stop. */
  killReason: string | null;
  /** Settles when the create call has answered: a stop waits for it, or it would find nothing to delete. */
  created: Promise<unknown>;
}

const errCode = (err: unknown) => (err as { code?: number }).code;
const hash = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 6);

/** A label value: the value itself when valid, else a readable prefix plus a hash (labels are for selecting). */
export function labelValue(v: string): string {
  if (/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(v)) return v;
  const clean = v.replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return `${clean.slice(0, 55)}-${hash(v)}`.replace(/^-/, 'x-');
}

/** The annotations that name whom a cell pod is billed to (none for the platform tenant). */
export function billingAnnotations(spec: Pick<CellRunSpec, 'tenant' | 'tier'>): Record<string, string> {
  return {
    ...(spec.tenant ? { [ANNOTATIONS.tenant]: spec.tenant } : {}),
    ...(spec.tier ? { [ANNOTATIONS.tenantTier]: spec.tier } : {}),
  };
}

/** Whom a pod is billed to, read back from its annotations (an adopted pod; unknown values: the platform's). */
export function billingOf(annotations: Record<string, string> | undefined): {
  tenant: string | null;
  tier: Tier | null;
} {
  const tier = TierSchema.safeParse(annotations?.[ANNOTATIONS.tenantTier]);
  return { tenant: annotations?.[ANNOTATIONS.tenant] || null, tier: tier.success ? tier.data : null };
}

/**
 * The pod of one incarnation: a DNS label (≤63, lowercase alphanumerics and '-'), unique per
 * world/cell/incarnation (the hash keeps two ids that sanitize alike apart), the same on every
 * retry so a create is idempotent.
 */
export function podName(world: string, cell: string, incarnation: number): string {
  const suffix = `-i${incarnation}-${hash(`${world}/${cell}/${incarnation}`)}`;
  const base = `${world}-${cell}`
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .slice(0, 63 - suffix.length)
    .replace(/-+$/, '');
  return `${base}${suffix}`;
}

/**
 * Runs each cell as a Pod. Everything it reports comes from a watch on the cell
 * pods (started when the pod appears, ready when its Ready condition is True,
 * exited when it fails, succeeds or disappears), so a restarted agent picks up
 * the pods that already run. Pods are owned by a per-world ConfigMap: deleting it
 * lets the cluster's garbage collector remove the world's pods, agent or not.
 */
export class KubernetesDriver implements Driver {
  readonly name = 'kubernetes';
  readonly namespace: string;
  private readonly core: CoreV1Api;
  private readonly pods = new Map<string, CellPod>();
  /** Pods already reported gone: a late event or a list older than the deletion must not bring them back. */
  private readonly goneUids = new Set<string>();
  private readonly listeners: Array<(e: DriverEvent) => void> = [];
  private connecting: Promise<void> | undefined;
  private watchAbort: AbortController | undefined;
  private closed = false;
  private readonly log: NonNullable<KubernetesDriverOptions['log']>;

  constructor(private readonly opts: KubernetesDriverOptions) {
    this.namespace = opts.namespace ?? 'fleetforge-cells';
    this.core = opts.kubeConfig.makeApiClient(CoreV1Api);
    this.log = opts.log ?? (() => undefined);
  }

  onEvent(listener: (event: DriverEvent) => void): void {
    this.listeners.push(listener);
  }

  private emit(e: DriverEvent): void {
    for (const l of this.listeners) l(e);
  }

  private ref(p: CellPod) {
    return { world: p.world, cell: p.cell, incarnation: p.incarnation, correlationId: p.correlationId };
  }

  /**
   * Ensures the namespace, lists the cell pods and starts watching them. Idempotent; start()
   * calls it. The first list adopts every cell pod an earlier agent left running.
   */
  connect(): Promise<void> {
    this.connecting ??= (async () => {
      await this.ensureNamespace();
      await this.resync();
    })().catch((err: unknown) => {
      this.connecting = undefined;
      throw err;
    });
    return this.connecting;
  }

  private async ensureNamespace(): Promise<void> {
    try {
      await this.core.readNamespace({ name: this.namespace });
      return;
    } catch (err) {
      if (errCode(err) !== 404) throw err;
    }
    try {
      await this.core.createNamespace({
        body: { metadata: { name: this.namespace, labels: { 'fleetforge.dev/purpose': 'cells' } } },
      });
    } catch (err) {
      if (errCode(err) !== 409) throw err;
    }
  }

  /** Lists (the truth now), then watches from there. Also the way back after any watch ends. */
  private async resync(): Promise<void> {
    if (this.closed) return;
    const list = await this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: CELL_SELECTOR });
    const present = new Set<string>();
    for (const pod of list.items) {
      present.add(pod.metadata!.name!);
      this.onPod('MODIFIED', pod);
    }
    for (const p of [...this.pods.values()]) {
      if (p.observed && !present.has(p.name)) this.gone(p, null);
    }
    await this.watch(list.metadata?.resourceVersion);
  }

  private async watch(resourceVersion: string | undefined): Promise<void> {
    if (this.closed) return;
    const w = new Watch(this.opts.kubeConfig);
    let ended = false;
    const again = (delayMs: number) => {
      if (ended || this.closed) return;
      ended = true;
      setTimeout(() => {
        this.resync().catch((err: unknown) => {
          this.log('cell pod relist failed; retrying', { err: String(err) });
          ended = false;
          again(Math.min(delayMs * 2, 5000));
        });
      }, delayMs).unref();
    };
    this.watchAbort = await w.watch(
      `/api/v1/namespaces/${this.namespace}/pods`,
      { labelSelector: CELL_SELECTOR, allowWatchBookmarks: true, resourceVersion },
      (type: string, obj: V1Pod) => {
        if (type === 'BOOKMARK') return;
        // 410 Gone and friends arrive as an ERROR event: start over from a list.
        if (type === 'ERROR') return this.watchAbort?.abort();
        this.onPod(type, obj);
      },
      // A watch ends on idle timeouts, server restarts and compaction; a relist misses nothing.
      () => again(200),
    );
  }

  /** Turns what the API says about a pod into at most one event per transition per incarnation. */
  private onPod(type: string, pod: V1Pod): void {
    const name = pod.metadata?.name;
    const uid = pod.metadata?.uid;
    if (!name || (uid && this.goneUids.has(uid))) return;
    const p = this.pods.get(name) ?? (type === 'DELETED' ? undefined : this.adoptPod(pod));
    if (!p) return;
    p.uid ??= uid;
    p.observed = true;
    if (type === 'DELETED') return this.gone(p, pod);
    if (pod.metadata?.deletionTimestamp) {
      p.deleting = true;
      return;
    }
    const phase = pod.status?.phase;
    if (phase === 'Failed' || phase === 'Succeeded') {
      this.exited(p, pod);
      // Restart policy Never keeps a finished pod around; the next incarnation is a new pod.
      void this.deletePod(p, 0);
      return;
    }
    if (!p.emitted.started) {
      p.emitted.started = true;
      this.emit({ kind: 'started', ...this.ref(p) });
    }
    const ready = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    const endpoint = this.endpointOf(pod);
    if (ready && endpoint && !p.emitted.ready && !p.stopRequested) {
      p.emitted.ready = true;
      p.endpoint = endpoint;
      this.emit({ kind: 'ready', ...this.ref(p), endpoint });
    }
  }

  private endpointOf(pod: V1Pod): string | undefined {
    if ((this.opts.endpointFrom ?? 'annotation') === 'annotation') {
      return pod.metadata?.annotations?.[ANNOTATIONS.endpoint];
    }
    return pod.status?.podIP ? `http://${pod.status.podIP}:${CELL_PORT}` : undefined;
  }

  /** A cell pod this driver did not create (an earlier agent did): known from its own env. */
  private adoptPod(pod: V1Pod): CellPod | undefined {
    if (pod.metadata?.deletionTimestamp) return undefined; // going anyway, and not at our request
    const env = Object.fromEntries((pod.spec?.containers?.[0]?.env ?? []).map((e) => [e.name, e.value]));
    const incarnation = Number(env.FF_INCARNATION);
    if (!env.FF_WORLD || !env.FF_CELL || !Number.isInteger(incarnation)) return undefined;
    const p = this.track(pod.metadata!.name!, {
      world: env.FF_WORLD,
      cell: env.FF_CELL,
      incarnation,
      correlationId: pod.metadata?.annotations?.[ANNOTATIONS.correlationId] ?? `adopted-${pod.metadata!.name!}`,
      ...billingOf(pod.metadata?.annotations),
      generation: knownGeneration(env.FF_WORLD_GENERATION),
    });
    this.log('adopted a running cell pod', { pod: p.name });
    return p;
  }

  private track(
    name: string,
    ref: Pick<CellPod, 'world' | 'cell' | 'incarnation' | 'correlationId' | 'tenant' | 'tier' | 'generation'>,
  ): CellPod {
    let markGone!: () => void;
    const p: CellPod = {
      name,
      uid: undefined,
      ...ref,
      superseded: false,
      endpoint: null,
      stopRequested: null,
      observed: false,
      deleting: false,
      emitted: { started: false, ready: false, exited: false },
      gone: new Promise<void>((r) => (markGone = r)),
      markGone: () => markGone(),
      killReason: null,
      created: Promise.resolve(),
    };
    this.pods.set(name, p);
    return p;
  }

  private exited(p: CellPod, pod: V1Pod | null): void {
    if (p.emitted.exited) return;
    p.emitted.exited = true;
    if (p.superseded) return;
    const terminated = pod?.status?.containerStatuses?.[0]?.state?.terminated;
    this.emit({
      kind: 'exited',
      ...this.ref(p),
      exitCode: terminated?.exitCode ?? null,
      requested: p.stopRequested !== null && p.killReason === null,
      reason:
        p.killReason ??
        p.stopRequested ??
        (terminated
          ? `pod ${pod?.status?.phase}: ${terminated.message ?? terminated.reason ?? `exit code ${terminated.exitCode}`}`
          : 'pod deleted'),
    });
  }

  private gone(p: CellPod, pod: V1Pod | null): void {
    this.exited(p, pod);
    const uid = p.uid ?? pod?.metadata?.uid;
    if (uid) {
      if (this.goneUids.size >= 10_000) this.goneUids.clear();
      this.goneUids.add(uid);
    }
    if (this.pods.get(p.name) === p) this.pods.delete(p.name);
    p.markGone();
  }

  /** The live incarnation of a cell, if any. */
  private current(world: string, cell: string): CellPod | undefined {
    let best: CellPod | undefined;
    for (const p of this.pods.values()) {
      if (p.world !== world || p.cell !== cell || p.emitted.exited) continue;
      if (!best || p.incarnation > best.incarnation) best = p;
    }
    return best;
  }

  list(): CellRuntimeStatus[] {
    return [...this.pods.values()]
      .filter((p) => !p.emitted.exited)
      .map((p) => ({
        world: p.world,
        cell: p.cell,
        incarnation: p.incarnation,
        phase: p.stopRequested || p.deleting ? 'stopping' : p.emitted.ready ? 'ready' : 'starting',
        endpoint: p.endpoint,
        tenant: p.tenant,
        tier: p.tier,
        generation: p.generation,
      }));
  }

  async start(spec: CellRunSpec): Promise<void> {
    await this.connect();
    const cur = this.current(spec.world, spec.cell);
    const generation = compareGenerations(cur?.generation, spec.generation);
    if (cur && generation > 0) return; // a start for a world deleted since: this pod is its successor's
    if (cur && generation < 0) {
      // The world was deleted and applied again: same name, maybe the same incarnation, another cell.
      cur.superseded = true;
      await this.stopPod(cur, 'its world was deleted and applied again');
    } else if (cur) {
      if (cur.incarnation > spec.incarnation) return; // stale command
      if (cur.incarnation === spec.incarnation && !cur.stopRequested) {
        // Idempotent: say again what is true now.
        if (cur.emitted.ready && cur.endpoint) this.emit({ kind: 'ready', ...this.ref(cur), endpoint: cur.endpoint });
        return;
      }
      await this.stopPod(cur, 'replaced by a newer incarnation');
    }
    const name = podName(spec.world, spec.cell, spec.incarnation);
    // A finished pod of this very incarnation (it crashed; asked to run again) must be gone first.
    const old = this.pods.get(name);
    if (old) await this.stopPod(old, old.stopRequested ?? 'restarted');
    const owner = await this.worldOwner(spec.world);
    const { world, cell, incarnation, correlationId } = spec;
    const p = this.track(name, {
      world,
      cell,
      incarnation,
      correlationId,
      tenant: spec.tenant ?? null,
      tier: spec.tier ?? null,
      generation: knownGeneration(spec.generation),
    });
    const created = this.createPod(this.podFor(spec, name, owner));
    p.created = created.catch(() => undefined);
    try {
      p.uid ??= await created;
    } catch (err) {
      if (this.pods.get(name) === p) this.pods.delete(name);
      p.markGone();
      throw err;
    }
  }

  /** Creates the pod (409: it is there already, which is fine); returns its uid. */
  private async createPod(body: V1Pod): Promise<string | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return (await this.core.createNamespacedPod({ namespace: this.namespace, body })).metadata?.uid;
      } catch (err) {
        if (errCode(err) === 409) {
          // Already there (a retried command, or a pod from an earlier agent): report what it is now.
          const cur = await this.core.readNamespacedPod({ name: body.metadata!.name!, namespace: this.namespace });
          this.onPod('MODIFIED', cur);
          return cur.metadata?.uid;
        }
        // A namespace created a moment ago has no default service account yet; admission waits for none.
        const noAccount = errCode(err) === 403 && /service ?account/i.test(String((err as { body?: unknown }).body));
        if (!noAccount || attempt >= 50) throw err;
        await sleep(200);
      }
    }
  }

  /** `world-<name>`, the ConfigMap every pod of the world is owned by. Read each time: a deleted one has a new uid. */
  private async worldOwner(world: string): Promise<V1OwnerReference> {
    const name = `world-${world}`;
    let cm: V1ConfigMap;
    try {
      cm = await this.core.readNamespacedConfigMap({ name, namespace: this.namespace });
    } catch (err) {
      if (errCode(err) !== 404) throw err;
      const body: V1ConfigMap = {
        metadata: { name, labels: { [LABELS.role]: 'world', [LABELS.world]: labelValue(world) } },
        data: { world },
      };
      try {
        cm = await this.core.createNamespacedConfigMap({ namespace: this.namespace, body });
      } catch (e) {
        if (errCode(e) !== 409) throw e;
        cm = await this.core.readNamespacedConfigMap({ name, namespace: this.namespace });
      }
    }
    if (cm.metadata?.deletionTimestamp) throw new Error(`world ${world}: its owner ${name} is being deleted`);
    return { apiVersion: 'v1', kind: 'ConfigMap', name, uid: cm.metadata!.uid!, controller: true };
  }

  private podFor(spec: CellRunSpec, name: string, owner: V1OwnerReference): V1Pod {
    const env = { ...cellEnv(spec, this.opts.sampleMs), ...this.opts.env };
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace: this.namespace,
        labels: {
          [LABELS.role]: 'cell',
          [LABELS.world]: labelValue(spec.world),
          [LABELS.cell]: labelValue(spec.cell),
          [LABELS.tier]: 'shared',
          [LABELS.incarnation]: String(spec.incarnation),
        },
        annotations: {
          [ANNOTATIONS.boundary]: JSON.stringify(spec.boundary),
          [ANNOTATIONS.correlationId]: spec.correlationId,
          ...billingAnnotations(spec),
        },
        ownerReferences: [owner],
      },
      spec: {
        restartPolicy: 'Never',
        terminationGracePeriodSeconds: Math.max(5, this.opts.stopGraceSeconds ?? 2),
        // Cells never talk to the API server.
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        containers: [
          {
            name: 'cell',
            image: this.opts.image ?? 'fleetforge/cell:dev',
            imagePullPolicy: 'IfNotPresent',
            env: Object.entries(env).map(([k, value]) => ({ name: k, value })),
            ports: [{ name: 'http', containerPort: CELL_PORT }],
            resources: this.opts.resources ?? {
              requests: { cpu: '100m', memory: '64Mi' },
              limits: { memory: '512Mi' },
            },
            readinessProbe: {
              httpGet: { path: '/readyz', port: CELL_PORT },
              periodSeconds: 1,
              failureThreshold: 3,
            },
          },
        ],
      },
    };
  }

  private async deletePod(p: CellPod, gracePeriodSeconds: number): Promise<void> {
    try {
      await this.core.deleteNamespacedPod({ name: p.name, namespace: this.namespace, gracePeriodSeconds });
    } catch (err) {
      if (errCode(err) === 404) this.gone(p, null);
      else this.log('cell pod delete failed', { pod: p.name, err: String(err) });
    }
  }

  /** Deletes the pod and resolves when the API no longer has it (the watch's DELETED, or a read's 404). */
  private async stopPod(p: CellPod, reason: string): Promise<void> {
    p.stopRequested ??= reason;
    await this.waitGone(p, this.opts.stopGraceSeconds ?? 2);
  }

  private async waitGone(p: CellPod, graceSeconds: number): Promise<void> {
    await p.created;
    if (this.pods.get(p.name) !== p && !p.emitted.exited) return; // its create failed: nothing runs
    await this.deletePod(p, graceSeconds);
    const deadline = Date.now() + (this.opts.stopTimeoutMs ?? 60_000);
    let done = false;
    void p.gone.then(() => (done = true));
    while (!done) {
      await Promise.race([p.gone, sleep(2000)]);
      if (done) break;
      try {
        await this.core.readNamespacedPod({ name: p.name, namespace: this.namespace });
      } catch (err) {
        if (errCode(err) === 404) this.gone(p, null);
      }
      if (!done && Date.now() > deadline) throw new Error(`cell pod ${p.name} still there after stop`);
    }
  }

  async stop(world: string, cell: string, reason: string): Promise<void> {
    const p = this.current(world, cell);
    if (!p) return;
    await this.stopPod(p, reason);
  }

  /** Deletes the world's owner ConfigMap; the garbage collector then removes every pod of the world. */
  async deleteWorld(world: string): Promise<void> {
    try {
      await this.core.deleteNamespacedConfigMap({
        name: `world-${world}`,
        namespace: this.namespace,
        propagationPolicy: 'Background',
      });
    } catch (err) {
      if (errCode(err) !== 404) throw err;
    }
  }

  adopt(): Promise<void> {
    return this.connect();
  }

  /** Deletes the pod at once (no grace) and reports it as exited, not requested, once it is gone. */
  async kill(world: string, cell: string, incarnation: number, reason: string): Promise<void> {
    const p = this.current(world, cell);
    if (!p || p.incarnation !== incarnation) return;
    p.killReason ??= reason;
    p.stopRequested ??= reason;
    await this.waitGone(p, 0);
  }

  /**
   * Stops watching. The cell pods keep running: an agent that is restarted, rolled out
   * or drained must not take its cells' sessions with it; the next agent adopts them.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.watchAbort?.abort();
  }

  async stopAll(reason: string): Promise<void> {
    const live = [...this.pods.values()].filter((p) => !p.emitted.exited);
    await Promise.all(
      live.map((p) =>
        this.stopPod(p, reason).catch((err: unknown) =>
          this.log('cell pod stop failed', { pod: p.name, err: String(err) }),
        ),
      ),
    );
  }
}
