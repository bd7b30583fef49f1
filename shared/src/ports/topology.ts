/**
 * The one list of every topic, subscription, function, scheduler job and
 * collection. The local stack creates exactly these, terraform declares exactly
 * these (a test compares them), and handlers name them from here.
 */

export const TOPICS = {
  worldReconcile: 'world-reconcile',
  cellMetrics: 'cell-metrics',
  agentCommands: 'agent-commands',
  agentReports: 'agent-reports',
  tenantRequests: 'tenant-requests',
  tenantCommands: 'tenant-commands',
  deadLetter: 'fleetforge-dead-letter',
} as const;
export type TopicName = (typeof TOPICS)[keyof typeof TOPICS];

export type FunctionSignature = 'http' | 'cloudevent';

export interface FunctionDef {
  /** functions-framework target and Cloud Functions name. */
  name: string;
  signature: FunctionSignature;
  description: string;
  /**
   * Every topic the function publishes to. Terraform grants exactly these, and a
   * unit test (functions/src/publishes.test.ts) fails on a publish not declared here.
   * Every Pub/Sub-triggered function copies poison messages to the dead-letter topic.
   */
  publishes: readonly TopicName[];
}

export const FUNCTIONS = {
  api: {
    name: 'api',
    signature: 'http',
    description: 'HTTPS API used by ffctl and clients',
    publishes: [TOPICS.worldReconcile, TOPICS.agentCommands, TOPICS.tenantRequests],
  },
  reconcileWorld: {
    name: 'reconcileWorld',
    signature: 'cloudevent',
    description: 'compares desired and actual cells of one world and converges',
    publishes: [TOPICS.agentCommands, TOPICS.deadLetter],
  },
  ingestMetrics: {
    name: 'ingestMetrics',
    signature: 'cloudevent',
    description: 'records cell load windows with bounded writes',
    // It reconciles the world inline when load crosses a threshold.
    publishes: [TOPICS.agentCommands, TOPICS.deadLetter],
  },
  onAgentReport: {
    name: 'onAgentReport',
    signature: 'cloudevent',
    description: 'applies agent observations (started, ready, exited) to cell state',
    publishes: [TOPICS.agentCommands, TOPICS.deadLetter],
  },
  provisionTenant: {
    name: 'provisionTenant',
    signature: 'cloudevent',
    description:
      'converges tenants: sends namespace, vcluster and pool commands to the agent, applies what it observed',
    publishes: [TOPICS.tenantCommands, TOPICS.deadLetter],
  },
  sentinel: {
    name: 'sentinel',
    signature: 'http',
    description: 'scheduled sweep: re-queues every world for a level-based reconcile',
    publishes: [TOPICS.worldReconcile],
  },
  billingExport: {
    name: 'billingExport',
    signature: 'http',
    description: 'scheduled billing: closes usage windows into signed JSON/CSV exports, updates cost gauges',
    publishes: [],
  },
} as const satisfies Record<string, FunctionDef>;
export type FunctionName = (typeof FUNCTIONS)[keyof typeof FUNCTIONS]['name'];

export interface SubscriptionDef {
  name: string;
  topic: TopicName;
  /** push: Pub/Sub POSTs to the function (as a Pub/Sub trigger does on GCP); pull: a long-running consumer. */
  delivery:
    { kind: 'push'; function: FunctionName } | { kind: 'pull'; consumer: 'agent' | 'agent-tenants' | 'operator' };
  ackDeadlineSeconds: number;
  maxDeliveryAttempts: number;
  /** Keep the order of one world's messages (ordering key = world). */
  ordered: boolean;
}

const DEFAULT_ATTEMPTS = 10;

export const SUBSCRIPTIONS: readonly SubscriptionDef[] = [
  {
    name: 'world-reconcile-push',
    topic: TOPICS.worldReconcile,
    delivery: { kind: 'push', function: 'reconcileWorld' },
    ackDeadlineSeconds: 60,
    maxDeliveryAttempts: DEFAULT_ATTEMPTS,
    ordered: false,
  },
  {
    name: 'cell-metrics-push',
    topic: TOPICS.cellMetrics,
    delivery: { kind: 'push', function: 'ingestMetrics' },
    ackDeadlineSeconds: 30,
    maxDeliveryAttempts: 5,
    ordered: false,
  },
  {
    name: 'agent-reports-push',
    topic: TOPICS.agentReports,
    delivery: { kind: 'push', function: 'onAgentReport' },
    ackDeadlineSeconds: 60,
    maxDeliveryAttempts: DEFAULT_ATTEMPTS,
    ordered: false,
  },
  {
    name: 'agent-commands-pull',
    topic: TOPICS.agentCommands,
    delivery: { kind: 'pull', consumer: 'agent' },
    // Short: a command leased by an agent that died comes back in 10 s, not a minute (chaos: agent
    // killed mid-hand-off). A live agent's client extends the lease while a command runs.
    ackDeadlineSeconds: 10,
    maxDeliveryAttempts: DEFAULT_ATTEMPTS,
    ordered: false,
  },
  {
    name: 'tenant-requests-push',
    topic: TOPICS.tenantRequests,
    delivery: { kind: 'push', function: 'provisionTenant' },
    ackDeadlineSeconds: 60,
    maxDeliveryAttempts: DEFAULT_ATTEMPTS,
    ordered: false,
  },
  {
    name: 'tenant-commands-pull',
    topic: TOPICS.tenantCommands,
    delivery: { kind: 'pull', consumer: 'agent-tenants' },
    // An upgrade runs for tens of seconds; the agent acks when it has taken the command on.
    ackDeadlineSeconds: 120,
    maxDeliveryAttempts: DEFAULT_ATTEMPTS,
    ordered: false,
  },
  {
    name: 'dead-letter-pull',
    topic: TOPICS.deadLetter,
    delivery: { kind: 'pull', consumer: 'operator' },
    ackDeadlineSeconds: 60,
    maxDeliveryAttempts: DEFAULT_ATTEMPTS,
    ordered: false,
  },
];

export interface SchedulerJobDef {
  name: string;
  /** Cron schedule on GCP (Cloud Scheduler's minimum is one minute). */
  schedule: string;
  /** Interval the local runner uses instead, so a dev loop is not a minute long. */
  localIntervalSeconds: number;
  /**
   * The interval is live config instead (`config/billing.intervalMinutes`): on GCP
   * the function keeps the job's cron equal to it, locally the runner reads it.
   */
  intervalFromConfig?: 'billing';
  target: FunctionName;
  description: string;
}

export const SCHEDULER_JOBS: readonly SchedulerJobDef[] = [
  {
    name: 'sentinel-sweep',
    schedule: '* * * * *',
    localIntervalSeconds: 10,
    target: 'sentinel',
    description: 're-queue every world for reconcile; heals lost messages',
  },
  {
    name: 'billing-export',
    // Hourly rollups; the daily UTC window is exported by the first run after midnight.
    schedule: '5 * * * *',
    localIntervalSeconds: 60,
    intervalFromConfig: 'billing',
    target: 'billingExport',
    description: 'close the last billing window into a signed export; refresh tenant cost gauges',
  },
];

export const COLLECTIONS = {
  worlds: 'worlds',
  cells: 'cells',
  operations: 'operations',
  loads: 'loads',
  events: 'events',
  tokens: 'tokens',
  audit: 'audit',
  auditHead: 'auditHead',
  config: 'config',
  tenants: 'tenants',
  exports: 'exports',
  agents: 'agents',
  usageSamples: 'usageSamples',
  usage: 'usage',
  billingHead: 'billingHead',
} as const;

/** Document paths, so no handler builds one by hand. */
export const paths = {
  world: (world: string) => `${COLLECTIONS.worlds}/${world}`,
  cells: (world: string) => `${COLLECTIONS.worlds}/${world}/${COLLECTIONS.cells}`,
  cell: (world: string, cell: string) => `${COLLECTIONS.worlds}/${world}/${COLLECTIONS.cells}/${cell}`,
  event: (id: string) => `${COLLECTIONS.events}/${id}`,
  token: (hash: string) => `${COLLECTIONS.tokens}/${hash}`,
  audit: (id: string) => `${COLLECTIONS.audit}/${id}`,
  auditHead: () => `${COLLECTIONS.auditHead}/chain`,
  operations: (world: string) => `${COLLECTIONS.worlds}/${world}/${COLLECTIONS.operations}`,
  operation: (world: string, op: string) => `${COLLECTIONS.worlds}/${world}/${COLLECTIONS.operations}/${op}`,
  config: (name: string) => `${COLLECTIONS.config}/${name}`,
  loads: (world: string) => `${COLLECTIONS.worlds}/${world}/${COLLECTIONS.loads}`,
  tenant: (tenant: string) => `${COLLECTIONS.tenants}/${tenant}`,
  load: (world: string, cell: string) => `${COLLECTIONS.worlds}/${world}/${COLLECTIONS.loads}/${cell}`,
  agents: () => COLLECTIONS.agents,
  agent: (id: string) => `${COLLECTIONS.agents}/${id}`,
  usageSample: (id: string) => `${COLLECTIONS.usageSamples}/${id}`,
  /** One tenant's share of one export (`tenants/{t}/usage/{exportId}`). */
  tenantUsage: (tenant: string, exportId: string) =>
    `${COLLECTIONS.tenants}/${tenant}/${COLLECTIONS.usage}/${exportId}`,
  tenantUsages: (tenant: string) => `${COLLECTIONS.tenants}/${tenant}/${COLLECTIONS.usage}`,
  export: (id: string) => `${COLLECTIONS.exports}/${id}`,
  billingHead: () => `${COLLECTIONS.billingHead}/chain`,
} as const;

export function pushSubscriptions(): Array<SubscriptionDef & { delivery: { kind: 'push'; function: FunctionName } }> {
  return SUBSCRIPTIONS.filter(
    (s): s is SubscriptionDef & { delivery: { kind: 'push'; function: FunctionName } } => s.delivery.kind === 'push',
  );
}

export function subscriptionFor(consumer: 'agent' | 'agent-tenants' | 'operator'): SubscriptionDef {
  const sub = SUBSCRIPTIONS.find((s) => s.delivery.kind === 'pull' && s.delivery.consumer === consumer);
  if (!sub) throw new Error(`no pull subscription for ${consumer}`);
  return sub;
}
