import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { PubSub } from '@google-cloud/pubsub';
import { BillingConfigSchema, FUNCTIONS, SCHEDULER_JOBS, pushSubscriptions } from '@fleetforge/shared';
import { FirestoreStateStore, ensureTopology, type Logger } from '@fleetforge/functions/adapters';
import { newToken, storeToken } from '@fleetforge/functions';
import {
  PrerequisiteError,
  pidAlive,
  portInUse,
  spawnManaged,
  startEmulators,
  startRedis,
  supervise,
  waitForHttp,
  type ManagedProcess,
  type SupervisedProcess,
} from '@fleetforge/emulators';
import { reapCells } from '@fleetforge/agent';
import type { Server } from 'node:http';
import { ApiClient } from '../ffctl/client';
import { startDashboard, type RunningDashboard } from '../dashboard/server';
import { startAlertReceiver } from './alert-receiver';
import { startSchedulerRunner } from './scheduler';
import { stackPorts, StackFileSchema, type DriverName, type StackFile } from './config';
import { prepareKubeAgent, reapCellPods, requireKube } from './kube';

export interface StackOptions {
  /** Where stack.json, the token, logs and blobs live (default `.fleetforge`). */
  stateDir: string;
  portBase: number;
  project: string;
  /** Repository root (to find the compiled packages). */
  root: string;
  log: Logger;
  /** Cells publish load every this many ms. */
  sampleMs?: number;
  resendAfterMs?: number;
  /**
   * Runs every scheduler job this often (tests, demo, benchmarks); otherwise fixed jobs
   * run every `localIntervalSeconds` and billingExport when `config/billing`'s cron would.
   */
  schedulerIntervalSeconds?: number;
  /** How the agent runs cells (default `process`); `external` starts no agent (one runs elsewhere, e.g. in Kind). */
  driver?: DriverName;
  /** With the `kubernetes` driver: the state folder of the running Kubernetes tier (default `.fleetforge/kube`). */
  kubeDir?: string;
}

export interface RunningStack {
  file: StackFile;
  token: string;
  stop(): Promise<void>;
  /** Resolves if a component dies on its own (the stack is then broken). */
  failed: Promise<string>;
  /**
   * Process-group ids of what the stack runs, by component (`function:<name>`, the
   * emulators, `redis`, `agent`): what the chaos suite pauses and kills.
   */
  pids(): Record<string, number>;
}

export class AlreadyRunningError extends Error {
  override name = 'AlreadyRunningError';
}

function stackPortList(base: number): number[] {
  const ports = stackPorts(base);
  return [
    ports.dashboard,
    ports.firestore,
    ports.pubsub,
    ...Object.values(ports.functions),
    ...Object.values(ports.functionMetrics),
    ports.agentMetrics,
    ports.alertReceiver,
    ports.redis,
  ];
}

/**
 * A free port block for a private stack (tests, demo, benchmarks). Blocks are
 * chosen below Linux's ephemeral range (32768+), where cells and clients bind,
 * and every port of the block is checked.
 */
export async function freePortBase(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + 100 * Math.floor(Math.random() * 120);
    const busy = await Promise.all(stackPortList(base).map((p) => portInUse(p)));
    if (!busy.some(Boolean)) return base;
  }
  throw new AlreadyRunningError('no free port block between 20000 and 32000');
}

/** Starts a private stack on a free block, trying another block if one is taken meanwhile. */
export async function startPrivateStack(opts: Omit<StackOptions, 'portBase'>): Promise<RunningStack> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startStack({ ...opts, portBase: await freePortBase() });
    } catch (err) {
      if (!(err instanceof AlreadyRunningError) || attempt >= 5) throw err;
    }
  }
}

/** The stack.json of a running stack in `stateDir`, or undefined. */
export function readRunningStack(stateDir: string): StackFile | undefined {
  const f = join(stateDir, 'stack.json');
  if (!existsSync(f)) return undefined;
  try {
    const file = StackFileSchema.parse(JSON.parse(readFileSync(f, 'utf8')));
    return pidAlive(file.pid) ? file : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts Redis for the cells' session checkpoints, from empty: the stack's worlds
 * start from empty too (the emulators keep nothing). Without redis-server the
 * stack still runs, with sessions in memory only, and says so.
 */
async function startSessionStore(dir: string, port: number, log: Logger) {
  rmSync(dir, { recursive: true, force: true });
  try {
    const redis = await startRedis({ port, dir });
    log.info({ redis: redis.url }, 'session checkpoints: redis');
    return redis;
  } catch (err) {
    if (!(err instanceof PrerequisiteError)) throw err;
    log.warn(
      { reason: err.message },
      'durable sessions OFF: cells keep sessions in memory only, a crashed cell loses them (install redis-server)',
    );
    return undefined;
  }
}

/**
 * Brings the local stack up: emulators, topics and push subscriptions, every
 * function under functions-framework, the scheduler runner and the agent.
 * Everything it starts is stopped by `stop()`, in reverse order.
 */
export async function startStack(opts: StackOptions): Promise<RunningStack> {
  const stateDir = resolve(opts.stateDir);
  const running = readRunningStack(stateDir);
  if (running) {
    throw new AlreadyRunningError(
      `FleetForge is already running (pid ${running.pid}, api ${running.api}). Stop it with Ctrl-C in its terminal or \`kill ${running.pid}\`.`,
    );
  }
  const ports = stackPorts(opts.portBase);
  const allPorts = stackPortList(opts.portBase);
  const busy = [];
  for (const p of allPorts) if (await portInUse(p)) busy.push(p);
  if (busy.length > 0) {
    throw new AlreadyRunningError(
      `ports ${busy.join(', ')} are in use; another FleetForge stack or program holds them. Stop it, or pick other ports with --port-base.`,
    );
  }
  const driver = opts.driver ?? 'process';
  const kubeDir = resolve(opts.kubeDir ?? join('.fleetforge', 'kube'));
  // Before anything starts: without the tier there is nothing to run cells on.
  const kube = driver === 'kubernetes' ? requireKube(kubeDir) : undefined;
  const logDir = join(stateDir, 'logs');
  const blobDir = join(stateDir, 'blobs');
  mkdirSync(logDir, { recursive: true });
  mkdirSync(blobDir, { recursive: true });

  const processes: ManagedProcess[] = [];
  let agent: SupervisedProcess | undefined;
  // Cells outlive their agent by design, so they live under the stack's own folder
  // and are reaped by the stack: at stop, and at start for a stack that was killed.
  const agentStateDir = join(stateDir, 'agent');
  const leftover = await reapCells(agentStateDir);
  if (leftover > 0) opts.log.warn({ cells: leftover }, 'stopped cells left running by an earlier stack');
  let scheduler: { stop(): void } | undefined;
  let configStore: FirestoreStateStore | undefined;
  let alertReceiver: Server | undefined;
  let dashboard: RunningDashboard | undefined;
  const stop = async () => {
    scheduler?.stop();
    scheduler = undefined;
    await configStore?.close();
    configStore = undefined;
    await dashboard?.close();
    dashboard = undefined;
    alertReceiver?.close();
    alertReceiver = undefined;
    // Agent first, then its cells (they outlive it on purpose), then functions, then emulators.
    await agent?.stop();
    agent = undefined;
    await reapCells(agentStateDir);
    if (kube) {
      await reapCellPods(kube.kubeconfig, 'fleetforge-cells').catch((err: unknown) =>
        opts.log.warn({ err: String(err) }, 'could not delete the cell pods'),
      );
    }
    for (const p of [...processes].reverse()) await p.stop();
    processes.length = 0;
    rmSync(join(stateDir, 'stack.json'), { force: true });
  };

  try {
    alertReceiver = await startAlertReceiver(ports.alertReceiver, join(logDir, 'alerts.log'), opts.log);
    opts.log.info({ firestore: ports.firestore, pubsub: ports.pubsub }, 'starting emulators');
    const emulators = await startEmulators({ firestorePort: ports.firestore, pubsubPort: ports.pubsub, logDir });
    processes.push(...emulators.processes);
    const redis = await startSessionStore(join(stateDir, 'redis'), ports.redis, opts.log);
    if (redis) processes.push(redis.process);

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      GOOGLE_CLOUD_PROJECT: opts.project,
      FIRESTORE_EMULATOR_HOST: emulators.firestoreHost,
      PUBSUB_EMULATOR_HOST: emulators.pubsubHost,
      FF_SAMPLE_MS: String(opts.sampleMs ?? 1000),
      FF_RESEND_AFTER_MS: String(opts.resendAfterMs ?? 5000),
      FF_ALERT_WEBHOOK_URL: `http://127.0.0.1:${ports.alertReceiver}/alerts`,
      // Billing exports: a folder standing in for the bucket, and the generated 0600 signing key.
      FF_EXPORTS_DIR: join(stateDir, 'exports'),
      FF_BILLING_KEY_FILE: join(stateDir, 'billing-hmac.key'),
      // No GCE metadata server here: skip the lookup the Google auth library would try.
      METADATA_SERVER_DETECTION: 'none',
      // As Google's Node.js runtime sets it: functions-framework's error pages (a body its
      // parsers refuse) then say "Bad Request" instead of showing a stack trace.
      NODE_ENV: 'production',
    };

    // The package exports only its API; its CLI (main.js) sits beside the entry point.
    const ffMain = join(dirname(require.resolve('@google-cloud/functions-framework')), 'main.js');
    const source = join(opts.root, 'functions', 'dist', 'index.js');
    const urls: Record<string, string> = {};
    const metrics: Record<string, string> = {};
    for (const def of Object.values(FUNCTIONS)) {
      const port = ports.functions[def.name]!;
      urls[def.name] = `http://127.0.0.1:${port}`;
      metrics[def.name] = `http://127.0.0.1:${ports.functionMetrics[def.name]!}/metrics`;
      processes.push(
        spawnManaged({
          name: `function:${def.name}`,
          command: process.execPath,
          args: [
            ffMain,
            `--target=${def.name}`,
            `--signature-type=${def.signature}`,
            `--port=${port}`,
            `--source=${source}`,
          ],
          env: { ...env, FF_METRICS_PORT: String(ports.functionMetrics[def.name]!), K_SERVICE: def.name },
          logFile: join(logDir, `${def.name}.log`),
        }),
      );
    }
    await Promise.all(
      Object.values(FUNCTIONS).map((def) =>
        waitForHttp(`${urls[def.name]!}/`, 30_000, {
          died: processes.find((p) => p.name === `function:${def.name}`)!.exited,
        }),
      ),
    );

    // The Google clients find emulators through these variables.
    process.env.FIRESTORE_EMULATOR_HOST = emulators.firestoreHost;
    process.env.PUBSUB_EMULATOR_HOST = emulators.pubsubHost;
    process.env.METADATA_SERVER_DETECTION = 'none';
    const pubsub = new PubSub({ projectId: opts.project });
    const pushEndpoints = Object.fromEntries(
      pushSubscriptions().map((s) => [s.delivery.function, urls[s.delivery.function]!]),
    );
    await ensureTopology(pubsub, opts.project, { pushEndpoints });
    await pubsub.close();

    // The admin token survives restarts (the emulators do not keep data, so its hash is stored again).
    const tokenFile = join(stateDir, 'admin.token');
    const token = existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : newToken();
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    chmodSync(tokenFile, 0o600);
    // One client for the stack's own reads and writes (the admin token, the scheduler's config).
    const readConfig = new FirestoreStateStore(opts.project);
    configStore = readConfig;
    await storeToken(
      readConfig,
      token,
      { name: 'admin', role: 'admin', tenant: null, createdBy: 'system:stack' },
      new Date(),
    );

    // Scheduler runner: the same job list terraform turns into Cloud Scheduler jobs.
    scheduler = startSchedulerRunner({
      jobs: SCHEDULER_JOBS,
      urls,
      log: opts.log,
      billingConfig: async () => BillingConfigSchema.parse((await readConfig.get('config/billing')) ?? {}),
      fixedIntervalSeconds: opts.schedulerIntervalSeconds,
    });

    if (driver !== 'external') {
      // The Kubernetes driver runs under the agent's own identity, so its RBAC is applied first.
      const driverEnv = kube ? await prepareKubeAgent(opts.root, kubeDir) : { FF_DRIVER: 'process' };
      opts.log.info({ driver, ...(kube ? { apiserver: kube.server } : {}) }, 'starting the agent');
      const healthz = `http://127.0.0.1:${ports.agentMetrics}/healthz`;
      // Supervised as a kubelet would: restarted with backoff when it exits or stops
      // answering its liveness probe. A restarted agent adopts the running cells.
      agent = supervise({
        name: 'agent',
        command: process.execPath,
        args: [join(opts.root, 'agent', 'dist', 'main.js')],
        env: {
          ...env,
          ...driverEnv,
          FF_AGENT_ID: 'local-agent',
          FF_AGENT_METRICS_PORT: String(ports.agentMetrics),
          FF_AGENT_STATE_DIR: agentStateDir,
          ...(redis ? { FF_REDIS_URL: redis.url } : {}),
        },
        logFile: join(logDir, 'agent.log'),
        liveness: { url: healthz, periodMs: 5000, timeoutMs: 2000, failureThreshold: 6 },
        onRestart: (restarts, reason) => opts.log.warn({ restarts, reason }, 'agent restarted'),
      });
      await waitForHttp(healthz, 30_000, { died: agent.current().exited });
      metrics.agent = `http://127.0.0.1:${ports.agentMetrics}/metrics`;
    }

    dashboard = await startDashboard({
      client: new ApiClient({ api: urls.api!, token, source: 'stack' }),
      port: ports.dashboard,
      log: opts.log,
    });

    const file: StackFile = {
      api: urls.api!,
      dashboard: dashboard.url,
      project: opts.project,
      pid: process.pid,
      startedAt: new Date().toISOString(),
      tokenFile,
      emulators: { firestore: emulators.firestoreHost, pubsub: emulators.pubsubHost },
      functions: urls,
      metrics,
      logDir,
      blobDir,
      driver,
      ...(redis ? { redis: redis.url } : {}),
      ...(kube ? { kube: { server: kube.server, kubeconfig: kube.kubeconfig, namespace: 'fleetforge-cells' } } : {}),
    };
    writeFileSync(join(stateDir, 'stack.json'), `${JSON.stringify(file, null, 2)}\n`);
    const failed = Promise.race(
      processes.map((p) => p.exited.then((code) => `${p.name} exited (code ${code}); see ${logDir}`)),
    );
    const pids = () => {
      const out: Record<string, number> = {};
      for (const p of processes) if (p.child.pid) out[p.name] = p.child.pid;
      const a = agent?.current().child.pid;
      if (a) out.agent = a;
      return out;
    };
    return { file, token, stop, failed, pids };
  } catch (err) {
    await stop();
    throw err;
  }
}
