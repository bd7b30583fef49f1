import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, Watch, type V1Pod } from '@kubernetes/client-node';
import { freePort } from '../ports';
import { spawnManaged, type ManagedProcess } from '../process-group';
import { apiserverArgs, findKubeBinaries } from './cluster';
import { httpsReady, kubeconfigYaml } from './kubeconfig';
import type { PodHandle, PodRunner } from './node-shim';

/** Label a vcluster control-plane pod carries (as the vcluster chart labels its StatefulSet pods). */
export const VCLUSTER_APP_LABEL = 'vcluster';
/** Host pods created by a vcluster's syncer carry this label with the vcluster's name. */
export const VCLUSTER_MANAGED_BY = 'vcluster.loft.sh/managed-by';

/**
 * Runs a vcluster pod the way the vcluster image does, with the binaries this
 * tier already has: a real kube-apiserver (its own etcd prefix in the host etcd),
 * a controller manager, and a syncer that copies the virtual cluster's pods into
 * the host namespace and their status back. The pod's env names the vcluster
 * (`VCLUSTER_NAME`) and the admin token (`VCLUSTER_TOKEN`, from its Secret); the
 * runner writes the kubeconfig into the Secret `vc-<name>` in the host namespace,
 * where the vcluster chart puts it.
 */
export class VclusterRunner implements PodRunner {
  readonly name = 'vcluster';

  constructor(
    private readonly o: {
      host: KubeConfig;
      etcd: string;
      dir: string;
      log?: (m: string, d?: Record<string, unknown>) => void;
    },
  ) {}

  matches(pod: V1Pod): boolean {
    return pod.metadata?.labels?.app === VCLUSTER_APP_LABEL;
  }

  async start(pod: V1Pod, env: Record<string, string>): Promise<PodHandle> {
    const hostNs = pod.metadata!.namespace!;
    const name = env.VCLUSTER_NAME ?? pod.metadata!.labels?.release ?? 'vcluster';
    const token = env.VCLUSTER_TOKEN;
    if (!token) throw new Error(`vcluster pod ${hostNs}/${pod.metadata!.name} has no VCLUSTER_TOKEN`);
    const bins = findKubeBinaries();
    const dir = join(this.o.dir, `${hostNs}-${name}`);
    const logDir = join(dir, 'logs');
    mkdirSync(logDir, { recursive: true });
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const saKey = join(dir, 'sa.key');
    const saPub = join(dir, 'sa.pub');
    writeFileSync(saKey, privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });
    writeFileSync(saPub, publicKey.export({ type: 'spki', format: 'pem' }));
    const tokens = join(dir, 'tokens.csv');
    writeFileSync(tokens, `${token},vcluster-admin,uid-vcluster-admin,"system:masters"\n`, { mode: 0o600 });
    const port = await freePort();
    const server = `https://127.0.0.1:${port}`;
    const kubeconfigText = kubeconfigYaml({ server, token, name: `vcluster-${name}`, user: 'vcluster-admin' });
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, kubeconfigText, { mode: 0o600 });

    const procs: ManagedProcess[] = [];
    procs.push(
      spawnManaged({
        name: `vcluster-apiserver-${name}`,
        command: bins.apiserver,
        args: apiserverArgs({
          etcd: this.o.etcd,
          port,
          certDir: join(dir, 'certs'),
          tokens,
          saKey,
          saPub,
          etcdPrefix: `/vcluster/${hostNs}/${name}`,
          // Pods are synced to the host, which mounts nothing: no service account token admission.
          admission: 'NamespaceLifecycle,LimitRanger,DefaultTolerationSeconds',
          disableAdmission: 'ServiceAccount',
        }),
        logFile: join(logDir, 'apiserver.log'),
      }),
    );
    let syncer: VclusterSyncer | undefined;
    let stopped = false;
    const stop = async () => {
      // A pod deleted while its API server still starts: what start-up would add next must not outlive it.
      stopped = true;
      await syncer?.close();
      for (const p of [...procs].reverse()) await p.stop(5000);
    };
    const exited = Promise.race(procs.map((p) => p.exited));
    const ready = (async () => {
      await httpsReady(`${server}/readyz`, token, 120_000, procs[0]!.exited);
      if (stopped) throw new Error(`vcluster ${name} stopped while starting`);
      procs.push(
        spawnManaged({
          name: `vcluster-controller-manager-${name}`,
          command: bins.controllerManager,
          args: [
            `--kubeconfig=${kubeconfig}`,
            '--leader-elect=false',
            '--port=0',
            '--secure-port=0',
            `--service-account-private-key-file=${saKey}`,
            '--controllers=*,-nodelifecycle,-nodeipam,-cloud-node-lifecycle,-service,-route,-csrsigning,-serviceaccount-token',
          ],
          logFile: join(logDir, 'controller-manager.log'),
        }),
      );
      const virtual = new KubeConfig();
      virtual.loadFromString(kubeconfigText);
      if (stopped) {
        await procs.at(-1)?.stop(5000);
        throw new Error(`vcluster ${name} stopped while starting`);
      }
      syncer = new VclusterSyncer(virtual, this.o.host, hostNs, name, this.o.log);
      await syncer.start();
      if (stopped) await syncer.close();
      await this.writeKubeconfigSecret(hostNs, name, kubeconfigText, server);
    })();
    return {
      ready,
      exited,
      stop,
      annotations: () => ({ 'fleetforge.dev/endpoint': server }),
    };
  }

  private async writeKubeconfigSecret(ns: string, name: string, kubeconfig: string, server: string): Promise<void> {
    const core = this.o.host.makeApiClient(CoreV1Api);
    const body = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: `vc-${name}`, namespace: ns, labels: { app: VCLUSTER_APP_LABEL, release: name } },
      type: 'Opaque',
      stringData: { config: kubeconfig, server },
    };
    try {
      await core.createNamespacedSecret({ namespace: ns, body });
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw err;
      await core.replaceNamespacedSecret({ name: `vc-${name}`, namespace: ns, body });
    }
  }
}

/** `<pod>-x-<namespace>-x-<vcluster>`, as vcluster names synced pods (cut to a valid name). */
export function hostPodName(pod: string, ns: string, vcluster: string): string {
  const n = `${pod}-x-${ns}-x-${vcluster}`;
  return n.length <= 63 ? n : n.slice(0, 63).replace(/-+$/, '');
}

/**
 * The part of vcluster that makes workloads run: each pod created in the virtual
 * cluster becomes a pod in the host namespace (scheduled by the host scheduler,
 * run by the host's nodes), and the host pod's status is copied back.
 */
export class VclusterSyncer {
  private readonly vcore: CoreV1Api;
  private readonly hcore: CoreV1Api;
  private aborts: AbortController[] = [];
  private closed = false;

  constructor(
    private readonly virtual: KubeConfig,
    private readonly host: KubeConfig,
    private readonly hostNs: string,
    private readonly name: string,
    private readonly log: (m: string, d?: Record<string, unknown>) => void = () => undefined,
  ) {
    this.vcore = virtual.makeApiClient(CoreV1Api);
    this.hcore = host.makeApiClient(CoreV1Api);
  }

  /** Bumped on every restart: callbacks of watches from an earlier round are ignored. */
  private round = 0;
  private restarting = false;

  async start(): Promise<void> {
    const round = ++this.round;
    const vw = new Watch(this.virtual);
    this.aborts.push(
      await vw.watch(
        '/api/v1/pods',
        {},
        (type, pod: V1Pod) => void this.onVirtual(type, pod).catch((e: unknown) => this.fail(e)),
        (err) => this.restart(err, round),
      ),
    );
    const hw = new Watch(this.host);
    this.aborts.push(
      await hw.watch(
        `/api/v1/namespaces/${this.hostNs}/pods`,
        { labelSelector: `${VCLUSTER_MANAGED_BY}=${this.name}` },
        (type, pod: V1Pod) => void this.onHost(type, pod).catch((e: unknown) => this.fail(e)),
        (err) => this.restart(err, round),
      ),
    );
  }

  private fail(err: unknown): void {
    this.log('vcluster sync failed', { vcluster: this.name, err: String(err) });
  }

  /**
   * One watch ending restarts both, once: aborting the other watch fires its done
   * callback too, which must not start another round (that grew without bound).
   */
  private restart(err: unknown, round: number): void {
    if (this.closed || round !== this.round || this.restarting) return;
    this.restarting = true;
    if (err) this.fail(err);
    for (const a of this.aborts) a.abort();
    this.aborts = [];
    const again = (delayMs: number) =>
      setTimeout(() => {
        this.restarting = false;
        this.start().catch((e: unknown) => {
          this.fail(e);
          this.restarting = true;
          again(Math.min(delayMs * 2, 5000));
        });
      }, delayMs);
    again(500);
  }

  private async onVirtual(type: string, pod: V1Pod): Promise<void> {
    const vns = pod.metadata!.namespace!;
    const hostName = hostPodName(pod.metadata!.name!, vns, this.name);
    if (type === 'DELETED' || pod.metadata?.deletionTimestamp) {
      await this.hcore.deleteNamespacedPod({ name: hostName, namespace: this.hostNs }).catch(ignore404);
      if (pod.metadata?.deletionTimestamp) {
        await this.vcore
          .deleteNamespacedPod({ name: pod.metadata.name!, namespace: vns, gracePeriodSeconds: 0 })
          .catch(ignore404);
      }
      return;
    }
    if (type !== 'ADDED') return;
    const spec = pod.spec!;
    const body: V1Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: hostName,
        namespace: this.hostNs,
        labels: {
          ...pod.metadata?.labels,
          [VCLUSTER_MANAGED_BY]: this.name,
          'vcluster.loft.sh/namespace': vns,
        },
        annotations: { 'vcluster.loft.sh/object-name': pod.metadata!.name!, 'vcluster.loft.sh/object-namespace': vns },
      },
      spec: {
        containers: spec.containers.map((c) => ({ ...c, volumeMounts: [] })),
        restartPolicy: spec.restartPolicy,
        nodeSelector: spec.nodeSelector,
        tolerations: spec.tolerations,
        automountServiceAccountToken: false,
      },
    };
    await this.hcore.createNamespacedPod({ namespace: this.hostNs, body }).catch((err: unknown) => {
      if ((err as { code?: number }).code !== 409) throw err;
    });
  }

  private async onHost(type: string, hpod: V1Pod): Promise<void> {
    if (type === 'DELETED') return;
    const vname = hpod.metadata?.annotations?.['vcluster.loft.sh/object-name'];
    const vns = hpod.metadata?.annotations?.['vcluster.loft.sh/object-namespace'];
    if (!vname || !vns || !hpod.status?.phase) return;
    let vpod: V1Pod;
    try {
      vpod = await this.vcore.readNamespacedPod({ name: vname, namespace: vns });
    } catch (err) {
      if ((err as { code?: number }).code === 404) {
        await this.hcore.deleteNamespacedPod({ name: hpod.metadata!.name!, namespace: this.hostNs }).catch(ignore404);
        return;
      }
      throw err;
    }
    if (vpod.status?.phase === hpod.status.phase) return;
    vpod.status = { ...hpod.status };
    await this.vcore.replaceNamespacedPodStatus({ name: vname, namespace: vns, body: vpod }).catch((err: unknown) => {
      if ((err as { code?: number }).code !== 409) throw err;
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const a of this.aborts) a.abort();
    this.aborts = [];
  }
}

function ignore404(err: unknown): void {
  if ((err as { code?: number }).code !== 404) throw err;
}
