/** The agent process: `node agent/dist/main.js` (the local stack starts it; in a cluster it is a Deployment). */
import { createServer } from 'node:http';
import { hostname } from 'node:os';
import { z } from 'zod';
import { TierSchema, parseOrThrow } from '@fleetforge/shared';
import { PromMetricsSink, PubSubBus, createLogger, type Logger } from '@fleetforge/functions/adapters';
import { Agent } from './agent';
import { KubeConfig } from '@kubernetes/client-node';
import type { Driver, MetricsSink } from '@fleetforge/shared';
import { KubernetesDriver } from './drivers/kubernetes-driver';
import { ProcessDriver } from './drivers/process-driver';
import { LeaseElector } from './leader';
import { UsageMeter } from './metering/meter';
import { cellTargets, tenantTargets } from './metering/targets';
import { KubeTenantExecutor } from './tenancy/kube-tenants';
import { NoClusterExecutor, TenantAgent } from './tenancy/tenant-agent';

function tenantKubeConfig(env: { FF_KUBECONFIG?: string | undefined }): KubeConfig {
  const kc = new KubeConfig();
  if (env.FF_KUBECONFIG) kc.loadFromFile(env.FF_KUBECONFIG);
  else kc.loadFromCluster();
  return kc;
}

const AgentEnvSchema = z.object({
  GOOGLE_CLOUD_PROJECT: z.string().min(1).default('fleetforge-local'),
  PUBSUB_EMULATOR_HOST: z.string().optional(),
  FF_AGENT_ID: z.string().min(1).default(`${hostname()}-${process.pid}`),
  FF_DRIVER: z.enum(['process', 'kubernetes']).default('process'),
  /** Kubernetes driver: a kubeconfig file; absent, the pod's in-cluster service account. */
  FF_KUBECONFIG: z.string().min(1).optional(),
  FF_CELL_NAMESPACE: z.string().min(1).default('fleetforge-cells'),
  FF_CELL_IMAGE: z.string().min(1).default('fleetforge/cell:dev'),
  /** `annotation` where something annotates ready pods with their endpoint (the local tier); `pod-ip` in a cluster. */
  FF_CELL_ENDPOINT: z.enum(['annotation', 'pod-ip']).default('annotation'),
  /** How often dedicated pools and tenant usage are sampled. */
  FF_TENANT_SAMPLE_MS: z.coerce.number().int().positive().default(5000),
  FF_AGENT_METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  /** 0.0.0.0 in a pod, so the kubelet's probes and a Prometheus scrape reach it. */
  FF_AGENT_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  FF_SAMPLE_MS: z.coerce.number().int().positive().default(1000),
  /** Process driver: where cell records live, so a restarted agent adopts the cells that still run. */
  FF_AGENT_STATE_DIR: z.string().min(1).default('.fleetforge/agent'),
  FF_HEARTBEAT_MS: z.coerce.number().int().positive().default(5000),
  /** Cell health probes: period, timeout, and consecutive failures before the cell is killed. */
  FF_PROBE_PERIOD_MS: z.coerce.number().int().positive().default(2000),
  FF_PROBE_TIMEOUT_MS: z.coerce.number().int().positive().default(1000),
  FF_PROBE_FAILURES: z.coerce.number().int().min(1).default(3),
  /** `lease`: only the holder of a coordination.k8s.io Lease acts (several replicas in a cluster). */
  FF_LEADER_ELECTION: z.enum(['none', 'lease']).default('none'),
  FF_LEASE_NAMESPACE: z.string().min(1).default('fleetforge-system'),
  FF_LEASE_NAME: z.string().min(1).default('fleetforge-agent'),
  /** `namespace/name` of the agent's service account: it binds itself in each tenant namespace. */
  FF_AGENT_SERVICE_ACCOUNT: z
    .string()
    .regex(/^[a-z0-9-]+\/[a-z0-9-]+$/, 'namespace/name')
    .default('fleetforge-system/fleetforge-agent'),
  /** Redis that cells checkpoint their sessions to (absent: sessions live in memory only). */
  FF_REDIS_URL: z.string().min(1).optional(),
  /**
   * Usage metering: how often cells and tenants are measured, and the platform tenant and its
   * tier: whom the cells of worlds naming no `spec.tenant` are billed to (a world naming a
   * tenant has its cells billed to that tenant on its tier, as their start commands say).
   */
  FF_METER_MS: z.coerce.number().int().positive().default(10_000),
  /**
   * Warm pool (process driver): idle, ready cells kept even when no world asks (FF_WARM_MIN)
   * and at most across all worlds (FF_WARM_MAX); each costs a cell's memory while idle.
   */
  /** How long an agent report waits for others (a split's children become ready together) to share one message. */
  FF_REPORT_BATCH_MS: z.coerce.number().int().nonnegative().max(1000).default(5),
  /** How long started/ready/handed-off reports wait while other starts or hand-offs of their operation are under way. */
  FF_REPORT_HOLD_MS: z.coerce.number().int().nonnegative().max(2000).default(500),
  FF_WARM_MIN: z.coerce.number().int().nonnegative().max(256).default(0),
  FF_WARM_MAX: z.coerce.number().int().nonnegative().max(256).default(16),
  /** Warm cells started at once while the pool refills (more: back sooner, but slower serving cells meanwhile). */
  FF_WARM_PARALLEL: z.coerce.number().int().positive().max(16).default(2),
  FF_METER_TENANT: z.string().min(1).default('platform'),
  FF_METER_TIER: TierSchema.default('standard'),
  LOG_LEVEL: z.string().default('info'),
});

type AgentEnv = z.infer<typeof AgentEnvSchema>;

async function makeDriver(env: AgentEnv, log: Logger, metrics: MetricsSink): Promise<Driver> {
  const cellExtraEnv = env.FF_REDIS_URL ? { FF_REDIS_URL: env.FF_REDIS_URL } : undefined;
  if (env.FF_DRIVER === 'process') {
    return new ProcessDriver({
      stateDir: env.FF_AGENT_STATE_DIR,
      sampleMs: env.FF_SAMPLE_MS,
      metrics,
      warmParallel: env.FF_WARM_PARALLEL,
      ...(cellExtraEnv ? { env: cellExtraEnv } : {}),
    });
  }
  const kubeConfig = new KubeConfig();
  if (env.FF_KUBECONFIG) kubeConfig.loadFromFile(env.FF_KUBECONFIG);
  else kubeConfig.loadFromCluster();
  const driver = new KubernetesDriver({
    kubeConfig,
    namespace: env.FF_CELL_NAMESPACE,
    image: env.FF_CELL_IMAGE,
    sampleMs: env.FF_SAMPLE_MS,
    ...(cellExtraEnv ? { env: cellExtraEnv } : {}),
    endpointFrom: env.FF_CELL_ENDPOINT === 'pod-ip' ? 'podIP' : 'annotation',
    log: (msg, data) => log.warn(data ?? {}, msg),
  });
  // Fail at start-up, not at the first command, when the cluster is unreachable or RBAC is missing.
  await driver.connect();
  log.info(
    { server: kubeConfig.getCurrentCluster()?.server, namespace: driver.namespace },
    'kubernetes driver connected',
  );
  return driver;
}

async function main(): Promise<void> {
  const env = parseOrThrow(AgentEnvSchema, process.env, 'agent environment');
  const log = createLogger('agent', env.LOG_LEVEL);
  const metrics = new PromMetricsSink(undefined, { defaultMetrics: true });
  let leading = env.FF_LEADER_ELECTION === 'none';
  if (env.FF_AGENT_METRICS_PORT !== undefined) {
    // Up before the election: a standby replica is healthy too (its probe must not restart it).
    const server = createServer((req, res) => {
      if (req.url === '/healthz') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
        return;
      }
      if (req.url === '/readyz') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, leading }));
        return;
      }
      void metrics.text().then((t) => res.writeHead(200, { 'content-type': 'text/plain' }).end(t));
    });
    server.listen(env.FF_AGENT_METRICS_PORT, env.FF_AGENT_METRICS_HOST);
    server.unref();
  }

  let elector: LeaseElector | undefined;
  if (env.FF_LEADER_ELECTION === 'lease') {
    elector = new LeaseElector({
      kubeConfig: tenantKubeConfig(env),
      namespace: env.FF_LEASE_NAMESPACE,
      name: env.FF_LEASE_NAME,
      identity: env.FF_AGENT_ID,
      log: (msg, data) => log.info(data ?? {}, msg),
    });
    log.info({ lease: `${env.FF_LEASE_NAMESPACE}/${env.FF_LEASE_NAME}` }, 'waiting for the agent lease');
    await elector.acquire();
    leading = true;
  }

  const bus = new PubSubBus(env.GOOGLE_CLOUD_PROJECT);
  const driver = await makeDriver(env, log, metrics);
  const agent = new Agent({
    agentId: env.FF_AGENT_ID,
    bus,
    driver,
    log,
    metrics,
    relayMs: env.FF_SAMPLE_MS,
    heartbeatMs: env.FF_HEARTBEAT_MS,
    probe: { periodMs: env.FF_PROBE_PERIOD_MS, timeoutMs: env.FF_PROBE_TIMEOUT_MS, failures: env.FF_PROBE_FAILURES },
    warm: { min: env.FF_WARM_MIN, max: env.FF_WARM_MAX },
    reportBatchMs: env.FF_REPORT_BATCH_MS,
    reportHoldMs: env.FF_REPORT_HOLD_MS,
    ...(elector ? { canAct: () => elector.isLeader() } : {}),
  });
  // Tenancy needs a cluster: on the process driver every tenant command is answered Unavailable, with how to get one.
  const tenantExecutor =
    env.FF_DRIVER === 'kubernetes'
      ? new KubeTenantExecutor({
          kubeconfig: tenantKubeConfig(env),
          sampleMs: env.FF_TENANT_SAMPLE_MS,
          agent: {
            namespace: env.FF_AGENT_SERVICE_ACCOUNT.split('/')[0]!,
            name: env.FF_AGENT_SERVICE_ACCOUNT.split('/')[1]!,
          },
          log: (msg, data) => log.warn(data ?? {}, msg),
        })
      : new NoClusterExecutor();
  const tenants = new TenantAgent({ agentId: env.FF_AGENT_ID, bus, executor: tenantExecutor, log, metrics });
  // Usage samples for billing: real process consumption (process driver) or pod requests × time (Kubernetes),
  // each cell billed to its world's tenant; on Kubernetes also tenant namespaces' pods and vcluster uptime, as
  // the tenant executor last observed them (the process driver's executor observes nothing: no vclusters).
  const cells = cellTargets(driver, {
    tenant: env.FF_METER_TENANT,
    tier: env.FF_METER_TIER,
    podCpuMillicores: 100,
    podMemoryBytes: 64 * 1024 * 1024,
  });
  const tenantUsage = tenantTargets(() => tenantExecutor.observed(), { maxAgeMs: 3 * env.FF_TENANT_SAMPLE_MS });
  const meter = new UsageMeter({
    agentId: env.FF_AGENT_ID,
    bus,
    log,
    targets: () => [...cells(), ...tenantUsage()],
  });

  let stopping = false;
  // The cells are left running: a restarted (or newly elected) agent adopts them.
  const shutdown = (why: string, code: number) => {
    if (stopping) return;
    stopping = true;
    log.info({ why }, 'agent stopping; its cells keep running');
    void Promise.all([agent.stop(), tenants.stop(), meter.stop(), elector?.stop(code === 0)])
      .then(() => bus.close())
      .finally(() => process.exit(code));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM', 0));
  process.on('SIGINT', () => shutdown('SIGINT', 0));
  // A leader that lost its lease stops acting at once and exits; the Deployment starts it again as a candidate.
  elector?.onLost((why) => shutdown(`lost the lease: ${why}`, 1));

  await agent.start();
  tenants.start();
  meter.start(env.FF_METER_MS);
}

main().catch((err: unknown) => {
  process.stderr.write(`${JSON.stringify({ severity: 'ERROR', component: 'agent', message: String(err) })}\n`);
  process.exit(1);
});
