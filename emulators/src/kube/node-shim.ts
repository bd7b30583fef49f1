import { CoreV1Api, KubeConfig, Watch, type V1EnvVar, type V1Node, type V1Pod } from '@kubernetes/client-node';

/** What a runner started for one pod. */
export interface PodHandle {
  /** Resolves when the pod's containers are ready (a kubelet's readiness probe passing). */
  ready: Promise<void>;
  /** Resolves with the exit code when what runs the pod ends on its own. */
  exited: Promise<number | null>;
  stop(): Promise<void>;
  /** Annotations the shim sets on the pod once it is ready (e.g. the endpoint of a local process). */
  annotations?(): Record<string, string>;
}

/** Runs the containers of some pods as local processes. The first runner that matches a pod runs it. */
export interface PodRunner {
  readonly name: string;
  matches(pod: V1Pod): boolean;
  start(pod: V1Pod, env: Record<string, string>): Promise<PodHandle>;
}

export interface FakeNodeSpec {
  name: string;
  labels: Record<string, string>;
  taints?: Array<{ key: string; value: string; effect: 'NoSchedule' | 'NoExecute' | 'PreferNoSchedule' }>;
  cpu: string;
  memory: string;
  pods?: number;
}

export const POOL_LABEL = 'fleetforge.dev/pool';

/** The nodes `kube:up` creates: a shared pool, and unassigned nodes a dedicated tenant can reserve. */
export function defaultFakeNodes(): FakeNodeSpec[] {
  const shared = [1, 2, 3].map((i) => ({
    name: `ff-shared-${i}`,
    labels: { [POOL_LABEL]: 'shared' },
    cpu: '8',
    memory: '16Gi',
  }));
  const spare = [1, 2, 3, 4].map((i) => ({
    name: `ff-spare-${i}`,
    labels: { [POOL_LABEL]: 'unassigned' },
    taints: [{ key: POOL_LABEL, value: 'unassigned', effect: 'NoSchedule' as const }],
    cpu: '4',
    memory: '8Gi',
  }));
  return [...shared, ...spare];
}

export function fakeNode(spec: FakeNodeSpec): V1Node {
  const capacity = { cpu: spec.cpu, memory: spec.memory, pods: String(spec.pods ?? 110) };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: spec.name,
      labels: {
        'kubernetes.io/hostname': spec.name,
        'kubernetes.io/os': 'linux',
        'fleetforge.dev/fake': 'true',
        ...spec.labels,
      },
      annotations: { 'fleetforge.dev/node-shim': 'true' },
    },
    spec: { taints: spec.taints ?? [] },
    status: {
      capacity,
      allocatable: capacity,
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'NodeShimReady',
          message: 'FleetForge node shim runs this node',
          lastHeartbeatTime: new Date(),
          lastTransitionTime: new Date(),
        },
      ],
      addresses: [
        { type: 'InternalIP', address: '127.0.0.1' },
        { type: 'Hostname', address: spec.name },
      ],
      nodeInfo: {
        architecture: 'amd64',
        bootID: '',
        containerRuntimeVersion: 'fleetforge-shim://1',
        kernelVersion: '',
        kubeProxyVersion: 'v1.20.2',
        kubeletVersion: 'v1.20.2',
        machineID: spec.name,
        operatingSystem: 'linux',
        osImage: 'FleetForge node shim',
        systemUUID: spec.name,
      },
    },
  };
}

interface Tracked {
  uid: string;
  handle?: PodHandle;
  stopping: boolean;
}

const podKey = (p: V1Pod) => `${p.metadata?.namespace}/${p.metadata?.name}`;

/**
 * Plays kubelet for fake nodes (as kwok does): pods the real scheduler binds to
 * them are started by a runner (a local process for cells and vclusters, nothing
 * for plain workloads), reported Running and Ready, and removed on deletion.
 */
export class NodeShim {
  private readonly core: CoreV1Api;
  private readonly pods = new Map<string, Tracked>();
  private readonly nodeNames = new Set<string>();
  private abort?: AbortController;
  private closed = false;

  constructor(
    private readonly kc: KubeConfig,
    private readonly runners: PodRunner[],
    private readonly log: (msg: string, data?: Record<string, unknown>) => void = () => undefined,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
  }

  async ensureNodes(nodes: FakeNodeSpec[]): Promise<void> {
    for (const spec of nodes) {
      this.nodeNames.add(spec.name);
      const body = fakeNode(spec);
      try {
        const created = await this.core.createNode({ body });
        // Status is a subresource: create ignores it, so write it separately.
        await this.core.replaceNodeStatus({ name: spec.name, body: { ...created, status: body.status } });
      } catch (err) {
        if ((err as { code?: number }).code !== 409) throw err;
        const cur = await this.core.readNode({ name: spec.name });
        await this.core.replaceNodeStatus({
          name: spec.name,
          body: { ...cur, status: { ...cur.status, ...body.status } },
        });
      }
    }
  }

  /** Adopts every node marked as shim-run (nodes added later by tests, too). */
  private async refreshNodes(): Promise<void> {
    const list = await this.core.listNode({ labelSelector: 'fleetforge.dev/fake=true' });
    for (const n of list.items) if (n.metadata?.name) this.nodeNames.add(n.metadata.name);
  }

  async start(): Promise<void> {
    await this.refreshNodes();
    const list = await this.core.listPodForAllNamespaces({});
    // A pod deleted while no watch ran sends no DELETED: stop what still runs for it.
    const present = new Set(list.items.map((p) => `${podKey(p)}#${p.metadata?.uid}`));
    for (const [key, t] of this.pods) {
      if (present.has(`${key}#${t.uid}`)) continue;
      this.pods.delete(key);
      void t.handle?.stop();
    }
    for (const p of list.items) this.onPod('ADDED', p);
    await this.watch(list.metadata?.resourceVersion);
  }

  /** Relists and watches again; keeps retrying (with backoff) while the API server is unreachable. */
  private resync(delayMs: number): void {
    if (this.closed) return;
    setTimeout(() => {
      this.start().catch((e: unknown) => {
        this.log('relist failed; retrying', { err: String(e), retryInMs: Math.min(delayMs * 2, 5000) });
        this.resync(Math.min(delayMs * 2, 5000));
      });
    }, delayMs);
  }

  private async watch(resourceVersion: string | undefined): Promise<void> {
    if (this.closed) return;
    const w = new Watch(this.kc);
    this.abort = await w.watch(
      '/api/v1/pods',
      { allowWatchBookmarks: true, ...(resourceVersion ? { resourceVersion } : {}) },
      (type, obj: V1Pod) => {
        if (type === 'BOOKMARK') {
          resourceVersion = obj.metadata?.resourceVersion ?? resourceVersion;
          return;
        }
        resourceVersion = obj.metadata?.resourceVersion ?? resourceVersion;
        this.onPod(type, obj);
      },
      (err: unknown) => {
        if (this.closed) return;
        if (err)
          this.log('pod watch ended; relisting', { err: err instanceof Error ? err.message : JSON.stringify(err) });
        // A watch ends (timeouts, compaction): relist to resync, then watch again.
        this.resync(200);
      },
    );
  }

  private onPod(type: string, pod: V1Pod): void {
    const key = podKey(pod);
    const node = pod.spec?.nodeName;
    if (type === 'DELETED') {
      const t = this.pods.get(key);
      if (t && t.uid === pod.metadata?.uid) {
        this.pods.delete(key);
        void t.handle?.stop();
      }
      return;
    }
    if (!node) return;
    if (!this.nodeNames.has(node)) {
      // A node created after start-up (tests add pools): check before ignoring.
      void this.refreshNodes().then(() => {
        if (this.nodeNames.has(node)) this.onPod(type, pod);
      });
      return;
    }
    const uid = pod.metadata?.uid ?? '';
    let t = this.pods.get(key);
    if (t && t.uid !== uid) {
      void t.handle?.stop();
      this.pods.delete(key);
      t = undefined;
    }
    if (pod.metadata?.deletionTimestamp) {
      if (t?.stopping) return;
      const tracked = t ?? { uid, stopping: true };
      tracked.stopping = true;
      this.pods.set(key, tracked);
      void (async () => {
        await tracked.handle?.stop();
        await this.core
          .deleteNamespacedPod({
            name: pod.metadata!.name!,
            namespace: pod.metadata!.namespace!,
            gracePeriodSeconds: 0,
          })
          .catch((err: unknown) => {
            if ((err as { code?: number }).code !== 404) this.log('pod delete failed', { pod: key, err: String(err) });
          });
      })();
      return;
    }
    const phase = pod.status?.phase;
    if (t || phase === 'Succeeded' || phase === 'Failed' || phase === 'Running') return;
    const tracked: Tracked = { uid, stopping: false };
    this.pods.set(key, tracked);
    void this.run(pod, tracked);
  }

  private async run(pod: V1Pod, tracked: Tracked): Promise<void> {
    const key = podKey(pod);
    const runner = this.runners.find((r) => r.matches(pod));
    try {
      const env = await this.resolveEnv(pod);
      if (runner) {
        tracked.handle = await runner.start(pod, env);
        if (tracked.stopping) {
          await tracked.handle.stop();
          return;
        }
        void tracked.handle.exited.then((code) => {
          if (this.pods.get(key) !== tracked || tracked.stopping) return;
          void this.setStatus(pod, code === 0 ? 'Succeeded' : 'Failed', `exited with code ${code}`, code);
        });
        await tracked.handle.ready;
        const annotations = tracked.handle.annotations?.();
        if (annotations && Object.keys(annotations).length > 0) await this.annotate(pod, annotations);
      }
      if (tracked.stopping) return;
      await this.setStatus(pod, 'Running', runner ? `run by ${runner.name}` : 'no process: workload accepted');
      this.log('pod running', { pod: key, node: pod.spec?.nodeName, runner: runner?.name ?? 'none' });
    } catch (err) {
      this.log('pod failed to start', { pod: key, err: String(err) });
      await tracked.handle?.stop();
      await this.setStatus(pod, 'Failed', String(err)).catch(() => undefined);
    }
  }

  /** Environment as a kubelet resolves it: literal values and secret or config map keys. */
  private async resolveEnv(pod: V1Pod): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    const ns = pod.metadata!.namespace!;
    const vars: V1EnvVar[] = pod.spec?.containers?.[0]?.env ?? [];
    for (const v of vars) {
      if (v.value !== undefined) out[v.name] = v.value;
      else if (v.valueFrom?.secretKeyRef) {
        const s = await this.core.readNamespacedSecret({ name: v.valueFrom.secretKeyRef.name ?? '', namespace: ns });
        const b64 = s.data?.[v.valueFrom.secretKeyRef.key];
        if (b64 !== undefined) out[v.name] = Buffer.from(b64, 'base64').toString('utf8');
      } else if (v.valueFrom?.configMapKeyRef) {
        const c = await this.core.readNamespacedConfigMap({
          name: v.valueFrom.configMapKeyRef.name ?? '',
          namespace: ns,
        });
        const val = c.data?.[v.valueFrom.configMapKeyRef.key];
        if (val !== undefined) out[v.name] = val;
      }
    }
    return out;
  }

  /**
   * Reads the pod, changes it and writes it back with `write`; a conflict (someone
   * wrote in between) reads again. A pod that is gone or was replaced is left alone.
   */
  private async updatePod(
    pod: V1Pod,
    change: (cur: V1Pod) => void,
    write: (cur: V1Pod) => Promise<unknown>,
  ): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      let cur: V1Pod;
      try {
        cur = await this.core.readNamespacedPod({ name: pod.metadata!.name!, namespace: pod.metadata!.namespace! });
      } catch (err) {
        if ((err as { code?: number }).code === 404) return;
        throw err;
      }
      if (cur.metadata?.uid !== pod.metadata?.uid) return;
      change(cur);
      try {
        await write(cur);
        return;
      } catch (err) {
        if ((err as { code?: number }).code !== 409) throw err;
      }
    }
  }

  private annotate(pod: V1Pod, annotations: Record<string, string>): Promise<void> {
    return this.updatePod(
      pod,
      (cur) => (cur.metadata!.annotations = { ...cur.metadata!.annotations, ...annotations }),
      (cur) =>
        this.core.replaceNamespacedPod({ name: cur.metadata!.name!, namespace: cur.metadata!.namespace!, body: cur }),
    );
  }

  private async setStatus(
    pod: V1Pod,
    phase: 'Running' | 'Failed' | 'Succeeded',
    message: string,
    exitCode: number | null = null,
  ): Promise<void> {
    const change = (cur: V1Pod) => {
      const now = new Date();
      const ready = phase === 'Running' ? 'True' : 'False';
      cur.status = {
        ...cur.status,
        phase,
        message,
        hostIP: '127.0.0.1',
        podIP: '127.0.0.1',
        podIPs: [{ ip: '127.0.0.1' }],
        startTime: cur.status?.startTime ?? now,
        conditions: ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map((type) => ({
          type,
          status: type === 'PodScheduled' || type === 'Initialized' ? 'True' : ready,
          lastTransitionTime: now,
        })),
        containerStatuses: (cur.spec?.containers ?? []).map((c) => ({
          name: c.name,
          image: c.image ?? '',
          imageID: '',
          ready: phase === 'Running',
          restartCount: 0,
          started: phase === 'Running',
          state:
            phase === 'Running'
              ? { running: { startedAt: now } }
              : {
                  terminated: {
                    exitCode: exitCode ?? (phase === 'Succeeded' ? 0 : 1),
                    reason: phase === 'Succeeded' ? 'Completed' : 'Error',
                    message,
                    finishedAt: now,
                  },
                },
        })),
      };
    };
    await this.updatePod(pod, change, (cur) =>
      this.core.replaceNamespacedPodStatus({
        name: cur.metadata!.name!,
        namespace: cur.metadata!.namespace!,
        body: cur,
      }),
    );
  }

  /** Stops every process it started (pods stay in the API, as after a kubelet restart). */
  async close(): Promise<void> {
    this.closed = true;
    this.abort?.abort();
    await Promise.all([...this.pods.values()].map((t) => t.handle?.stop() ?? Promise.resolve()));
    this.pods.clear();
  }
}

export function kubeConfigFrom(path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

/** Environment variable lists from a plain record (pods built in code). */
export function envList(env: Record<string, string>): V1EnvVar[] {
  return Object.entries(env).map(([name, value]) => ({ name, value }));
}
