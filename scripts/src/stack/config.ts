import { z } from 'zod';

/** `.fleetforge/stack.json`: how ffctl, tests and tools find a running local stack. */
export const StackFileSchema = z.object({
  api: z.url(),
  project: z.string(),
  pid: z.number().int(),
  startedAt: z.string(),
  tokenFile: z.string(),
  emulators: z.object({ firestore: z.string(), pubsub: z.string() }),
  functions: z.record(z.string(), z.url()),
  metrics: z.record(z.string(), z.url()),
  logDir: z.string(),
  blobDir: z.string(),
  /**
   * How cells run: local processes, Pods on the local Kubernetes tier (`npm run kube:up`), or
   * `external`: no local agent, one runs elsewhere (agent/deploy in Kind) on these emulators.
   */
  driver: z.enum(['process', 'kubernetes', 'external']),
  /** With the Kubernetes driver: the tier's API server and the admin kubeconfig (for kubectl). */
  kube: z.object({ server: z.string(), kubeconfig: z.string(), namespace: z.string() }).optional(),
  /** Redis the cells checkpoint sessions to; absent when redis-server was not installed (sessions in memory only). */
  redis: z.string().optional(),
  /** The live dashboard (a page on loopback reading the API with the stack's token). */
  dashboard: z.url(),
});
export type DriverName = StackFile['driver'];
export type StackFile = z.infer<typeof StackFileSchema>;

/** Fixed ports from a base, so `npm start` is predictable and firebase.json can name them. */
export function stackPorts(base: number) {
  return {
    /** The live dashboard: the first port of the block, so `npm start` opens on 8780. */
    dashboard: base,
    firestore: base + 1,
    pubsub: base + 2,
    functions: {
      api: base + 10,
      reconcileWorld: base + 11,
      ingestMetrics: base + 12,
      onAgentReport: base + 13,
      sentinel: base + 14,
      provisionTenant: base + 15,
      billingExport: base + 16,
    } as Record<string, number>,
    functionMetrics: {
      api: base + 20,
      reconcileWorld: base + 21,
      ingestMetrics: base + 22,
      onAgentReport: base + 23,
      sentinel: base + 24,
      provisionTenant: base + 25,
      billingExport: base + 26,
    } as Record<string, number>,
    agentMetrics: base + 30,
    /** The local pager: a webhook receiver that logs dedicated-pool alerts. */
    alertReceiver: base + 31,
    /** Redis: the cells' session checkpoint (durable sessions). */
    redis: base + 32,
  };
}

export const DEFAULT_PORT_BASE = 8780;
