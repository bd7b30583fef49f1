import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { sleep } from '@fleetforge/shared';
import { portInUse } from '../ports';
import { pidAlive, spawnManaged, type ManagedProcess } from '../process-group';
import { httpsGet, httpsReady, kubeconfigYaml } from './kubeconfig';
import { defaultFakeNodes } from './node-shim';

/** Where `scripts/kube/build.sh` caches the binaries it builds from Debian's source package. */
export function kubeBinDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.FF_KUBE_CACHE ?? join(homedir(), '.cache', 'fleetforge', 'kube'), 'bin');
}

export class KubePrerequisiteError extends Error {
  override name = 'KubePrerequisiteError';
}

/** The binaries this tier runs; etcd comes from Debian's etcd-server package. */
export function findKubeBinaries(env: NodeJS.ProcessEnv = process.env) {
  const bin = kubeBinDir(env);
  const found = {
    etcd: ['/usr/bin/etcd', '/usr/local/bin/etcd'].find((p) => existsSync(p)),
    apiserver: join(bin, 'kube-apiserver'),
    controllerManager: join(bin, 'kube-controller-manager'),
    scheduler: join(bin, 'kube-scheduler'),
  };
  const missing = Object.entries(found).filter(([, p]) => !p || !existsSync(p));
  if (missing.length > 0) {
    throw new KubePrerequisiteError(
      `the Kubernetes tier needs ${missing.map(([k]) => k).join(', ')}; run \`bash scripts/kube/build.sh\` ` +
        `(installs etcd-server and golang-go with apt and builds kube-apiserver from Debian's source package, ~8 min once; cached in ${bin})`,
    );
  }
  return found as { etcd: string; apiserver: string; controllerManager: string; scheduler: string };
}

export const DEFAULT_KUBE_PORT_BASE = 8850;

export function kubePorts(base: number) {
  return {
    etcdClient: base,
    etcdPeer: base + 1,
    apiserver: base + 2,
    controllerManager: base + 3,
    scheduler: base + 4,
  };
}

/** `.fleetforge/kube/kube.json`: what `kube:down`, the stack and tests need to find the tier. */
export const KubeStateSchema = z.object({
  server: z.string().url(),
  kubeconfig: z.string(),
  adminToken: z.string(),
  agentToken: z.string(),
  etcd: z.string(),
  portBase: z.number().int(),
  dir: z.string(),
  startedAt: z.string(),
  pids: z.record(z.string(), z.number().int()),
});
export type KubeState = z.infer<typeof KubeStateSchema>;

export interface StartKubeOptions {
  /** Folder for data, certificates, kubeconfig and logs (default `.fleetforge/kube`). */
  dir: string;
  portBase?: number;
  /** Keep the processes when this process exits (`kube:up`). */
  detach?: boolean;
  /** The compiled cell entry point the node shim runs for cell pods (`agent/dist/cell/main.js`). */
  cellMain: string;
  log?: (msg: string) => void;
}

export interface RunningKube {
  state: KubeState;
  processes: ManagedProcess[];
  stop(): Promise<void>;
}

export function readKubeState(dir: string): KubeState | undefined {
  const f = join(dir, 'kube.json');
  if (!existsSync(f)) return undefined;
  try {
    const s = KubeStateSchema.parse(JSON.parse(readFileSync(f, 'utf8')));
    return Object.values(s.pids).some(pidAlive) ? s : undefined;
  } catch {
    return undefined;
  }
}

/** Stops a tier started elsewhere (by `kube:up`) from its state file. */
export async function stopKubeFromState(dir: string): Promise<boolean> {
  const f = join(dir, 'kube.json');
  if (!existsSync(f)) return false;
  const s = KubeStateSchema.parse(JSON.parse(readFileSync(f, 'utf8')));
  // Reverse start order: shim (stops vcluster processes and cells), scheduler, controllers, apiserver, etcd.
  for (const pid of Object.values(s.pids).reverse()) {
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      continue;
    }
    const deadline = Date.now() + 10_000;
    while (pidAlive(pid) && Date.now() < deadline) await sleep(100);
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  rmSync(f, { force: true });
  return true;
}

/**
 * Brings up a real Kubernetes control plane on loopback: etcd, kube-apiserver
 * (static tokens, RBAC, quota and node-selector admission), controller manager
 * and scheduler, plus the node shim that plays kubelet for fake nodes.
 */
export async function startKube(opts: StartKubeOptions): Promise<RunningKube> {
  const bins = findKubeBinaries();
  const dir = resolve(opts.dir);
  const log = opts.log ?? (() => undefined);
  const running = readKubeState(dir);
  if (running)
    throw new KubePrerequisiteError(
      `the Kubernetes tier already runs (${running.server}); \`npm run kube:down\` stops it`,
    );
  const base = opts.portBase ?? DEFAULT_KUBE_PORT_BASE;
  const ports = kubePorts(base);
  for (const p of Object.values(ports)) {
    if (await portInUse(p))
      throw new KubePrerequisiteError(`port ${p} is in use; stop what holds it or pick another --port-base`);
  }
  // Fresh data each time, like the Firestore emulator: a test tier starts empty.
  rmSync(join(dir, 'etcd'), { recursive: true, force: true });
  const logDir = join(dir, 'logs');
  const pki = join(dir, 'pki');
  mkdirSync(logDir, { recursive: true });
  mkdirSync(pki, { recursive: true });

  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const saKey = join(pki, 'sa.key');
  const saPub = join(pki, 'sa.pub');
  writeFileSync(saKey, privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });
  writeFileSync(saPub, publicKey.export({ type: 'spki', format: 'pem' }));
  const adminToken = randomBytes(24).toString('hex');
  const agentToken = randomBytes(24).toString('hex');
  const tokens = join(pki, 'tokens.csv');
  // The agent gets its own identity so the RBAC in agent/deploy is what it runs under.
  writeFileSync(
    tokens,
    `${adminToken},fleetforge-admin,uid-admin,"system:masters"\n${agentToken},system:serviceaccount:fleetforge-system:fleetforge-agent,uid-agent,"system:serviceaccounts,system:serviceaccounts:fleetforge-system"\n`,
    { mode: 0o600 },
  );
  const server = `https://127.0.0.1:${ports.apiserver}`;
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, kubeconfigYaml({ server, token: adminToken, name: 'fleetforge', user: 'admin' }), {
    mode: 0o600,
  });
  writeFileSync(
    join(dir, 'agent.kubeconfig'),
    kubeconfigYaml({ server, token: agentToken, name: 'fleetforge', user: 'fleetforge-agent' }),
    { mode: 0o600 },
  );

  const processes: ManagedProcess[] = [];
  const spawn = (name: string, command: string, args: string[], env?: NodeJS.ProcessEnv) => {
    const p = spawnManaged({ name, command, args, env, logFile: join(logDir, `${name}.log`) });
    if (opts.detach) p.child.unref();
    processes.push(p);
    return p;
  };
  const stop = async () => {
    for (const p of [...processes].reverse()) await p.stop(10_000);
    processes.length = 0;
    rmSync(join(dir, 'kube.json'), { force: true });
  };

  try {
    const etcdUrl = `http://127.0.0.1:${ports.etcdClient}`;
    log(`etcd on ${etcdUrl}`);
    spawn('etcd', bins.etcd, [
      '--name=fleetforge',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
      `--initial-cluster=fleetforge=http://127.0.0.1:${ports.etcdPeer}`,
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    log(`kube-apiserver on ${server}`);
    const apiserver = spawn('kube-apiserver', bins.apiserver, [
      ...apiserverArgs({ etcd: etcdUrl, port: ports.apiserver, certDir: join(pki, 'apiserver'), tokens, saKey, saPub }),
    ]);
    await httpsReady(`${server}/readyz`, adminToken, 90_000, apiserver.exited);
    const kc = `--kubeconfig=${kubeconfig}`;
    spawn('kube-controller-manager', bins.controllerManager, [
      kc,
      '--leader-elect=false',
      '--port=0',
      `--secure-port=${ports.controllerManager}`,
      '--bind-address=127.0.0.1',
      `--service-account-private-key-file=${saKey}`,
      '--use-service-account-credentials=false',
      `--root-ca-file=${join(pki, 'apiserver', 'apiserver.crt')}`,
      // The node shim does not renew node leases: without this controller fake nodes stay Ready.
      '--controllers=*,-nodelifecycle,-nodeipam,-cloud-node-lifecycle,-service,-route,-csrsigning',
      '--v=1',
    ]);
    spawn('kube-scheduler', bins.scheduler, [
      kc,
      '--leader-elect=false',
      '--port=0',
      `--secure-port=${ports.scheduler}`,
      '--bind-address=127.0.0.1',
      '--v=1',
    ]);
    const shim = spawn('node-shim', process.execPath, [nodeShimMain()], {
      ...process.env,
      FF_KUBECONFIG: kubeconfig,
      FF_KUBE_ETCD: etcdUrl,
      FF_KUBE_DIR: dir,
      FF_CELL_MAIN: opts.cellMain,
    });
    await waitForNodes(server, adminToken, defaultFakeNodes().length, shim.exited);
    log(`node shim runs ${defaultFakeNodes().length} fake nodes`);
    const state: KubeState = {
      server,
      kubeconfig,
      adminToken,
      agentToken,
      etcd: etcdUrl,
      portBase: base,
      dir,
      startedAt: new Date().toISOString(),
      pids: Object.fromEntries(processes.map((p) => [p.name, p.child.pid ?? 0])),
    };
    writeFileSync(join(dir, 'kube.json'), `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
    return { state, processes, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * The compiled node shim entry point. Beside this module when it runs compiled; when Jest
 * loads this module from source, the package's build output (`npm test` builds first).
 */
function nodeShimMain(): string {
  const beside = join(__dirname, 'node-shim-main.js');
  if (existsSync(beside)) return beside;
  const built = resolve(__dirname, '..', '..', 'dist', 'kube', 'node-shim-main.js');
  if (existsSync(built)) return built;
  throw new KubePrerequisiteError(`the node shim is not built (${built}); run \`npm run build\``);
}

/** Flags for a kube-apiserver on loopback; vclusters reuse them with their own etcd prefix. */
export function apiserverArgs(o: {
  etcd: string;
  port: number;
  certDir: string;
  tokens: string;
  saKey: string;
  saPub: string;
  etcdPrefix?: string;
  admission?: string;
  /** Plugins on by default that this server must not run. */
  disableAdmission?: string;
}): string[] {
  return [
    `--etcd-servers=${o.etcd}`,
    `--etcd-prefix=${o.etcdPrefix ?? '/registry'}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${o.port}`,
    '--insecure-port=0',
    `--cert-dir=${o.certDir}`,
    `--token-auth-file=${o.tokens}`,
    '--authorization-mode=RBAC',
    `--service-account-key-file=${o.saPub}`,
    `--service-account-signing-key-file=${o.saKey}`,
    '--service-account-issuer=https://kubernetes.default.svc',
    '--service-cluster-ip-range=10.96.0.0/16',
    '--allow-privileged=true',
    // PodNodeSelector and PodTolerationRestriction pin a dedicated tenant's namespace to its pool.
    `--enable-admission-plugins=${o.admission ?? 'NamespaceLifecycle,LimitRanger,ServiceAccount,ResourceQuota,PodNodeSelector,PodTolerationRestriction,DefaultTolerationSeconds'}`,
    // It taints every new node not-ready until the node lifecycle controller sees a kubelet; here the node shim
    // is the kubelet and that controller is off, so the taint would never go and nothing would schedule.
    '--disable-admission-plugins=TaintNodesByCondition',
    ...(o.disableAdmission ? [`--disable-admission-plugins=${o.disableAdmission}`] : []),
    '--v=1',
  ];
}

async function waitForNodes(server: string, token: string, count: number, died: Promise<unknown>): Promise<void> {
  let dead = false;
  void died.then(() => (dead = true));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await httpsGet(`${server}/api/v1/nodes?labelSelector=fleetforge.dev%2Ffake%3Dtrue`, token).catch(
      () => undefined,
    );
    if (r?.status === 200) {
      const nodes = (
        JSON.parse(r.body) as { items: Array<{ status?: { conditions?: Array<{ type: string; status: string }> } }> }
      ).items;
      const ready = nodes.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      if (ready.length >= count) return;
    }
    if (dead) throw new Error('the node shim exited before its nodes were ready; see its log');
    if (Date.now() > deadline) throw new Error('fake nodes not ready within 60 s');
    await sleep(200);
  }
}
