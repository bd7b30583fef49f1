import { z } from 'zod';
import { IsoTimeSchema } from '../world/model';
import { NameSchema } from '../world/world';

/** The three tenant tiers (PRD GH-026..GH-028). */
export const TierSchema = z.enum(['dev', 'standard', 'dedicated']);
export type Tier = z.infer<typeof TierSchema>;

/** Tenant names become Kubernetes namespace names (`tenant-<name>`), so they are DNS labels. */
export const TenantNameSchema = NameSchema.refine(
  (s) => s.length <= 40,
  'at most 40 characters (it prefixes namespaces)',
);

export const TenantCreateRequestSchema = z.strictObject({
  name: TenantNameSchema,
  tier: TierSchema,
  /** Who receives the kubeconfig (standard) and alerts. */
  admin: z.string().min(1).max(200).optional(),
  billingId: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lower-case letters, digits and dashes')
    .optional(),
  /** Dedicated tier: how many nodes to reserve. */
  poolNodes: z.number().int().min(1).max(16).optional(),
});
export type TenantCreateRequest = z.infer<typeof TenantCreateRequestSchema>;

export const TenantUpgradeRequestSchema = z.strictObject({
  to: z.literal('standard'),
  /** Test switch: make the upgrade fail at this step, to prove the dev namespace keeps serving. */
  failAt: z.enum(['provision', 'reapply', 'validate']).optional(),
});
export type TenantUpgradeRequest = z.infer<typeof TenantUpgradeRequestSchema>;

/** What the agent must converge a tenant to. Idempotent by (tenant, generation, action). */
export const TenantSpecSchema = z.strictObject({
  name: TenantNameSchema,
  tier: TierSchema,
  billingId: z.string().min(1),
  admin: z.string().min(1),
  poolNodes: z.number().int().min(1).max(16).default(2),
});
export type TenantSpec = z.infer<typeof TenantSpecSchema>;

export const TenantPhaseSchema = z.enum([
  'Pending',
  'Provisioning',
  'Ready',
  'Upgrading',
  'Failed',
  'Unavailable',
  'Deleting',
  'Deleted',
]);
export type TenantPhase = z.infer<typeof TenantPhaseSchema>;

export const PoolNodeSchema = z.strictObject({
  name: z.string(),
  ready: z.boolean(),
  cpuMillis: z.number().nonnegative(),
  memoryMiB: z.number().nonnegative(),
  requestedCpuMillis: z.number().nonnegative(),
  requestedMemoryMiB: z.number().nonnegative(),
});
export type PoolNode = z.infer<typeof PoolNodeSchema>;

export const PoolStatusSchema = z.strictObject({
  at: IsoTimeSchema,
  nodes: z.array(PoolNodeSchema),
});
export type PoolStatus = z.infer<typeof PoolStatusSchema>;

export const TenantUsageSchema = z.strictObject({
  at: IsoTimeSchema,
  pods: z.number().int().nonnegative(),
  runningPods: z.number().int().nonnegative(),
  cpuRequestMillis: z.number().nonnegative(),
  memoryRequestMiB: z.number().nonnegative(),
});
export type TenantUsage = z.infer<typeof TenantUsageSchema>;

export const PlacementSchema = z.strictObject({
  at: IsoTimeSchema,
  correlationId: z.string().min(1),
  /** Host nodes (the "hosting cells" of the PRD) the tenant's control plane or pool runs on. */
  nodes: z.array(z.string()),
  namespace: z.string(),
  reason: z.string(),
});
export type Placement = z.infer<typeof PlacementSchema>;

export const AlertKindSchema = z.enum(['PoolCpuHigh', 'PoolMemoryHigh', 'PoolSingleNode']);
export type AlertKind = z.infer<typeof AlertKindSchema>;

export const ActiveAlertSchema = z.strictObject({
  kind: AlertKindSchema,
  since: IsoTimeSchema,
  message: z.string(),
  value: z.number(),
});
export type ActiveAlert = z.infer<typeof ActiveAlertSchema>;

/** `tenants/{tenant}`. */
export const TenantDocSchema = z.strictObject({
  spec: TenantSpecSchema,
  /** Bumped by every change the agent must act on (create, upgrade, delete). */
  generation: z.number().int().positive(),
  desired: z.enum(['present', 'absent']),
  /** The pending action at `generation`. */
  action: z.enum(['apply', 'upgrade', 'delete']),
  upgrade: z
    .strictObject({
      to: z.literal('standard'),
      failAt: TenantUpgradeRequestSchema.shape.failAt,
      requestedAt: IsoTimeSchema,
    })
    .nullable()
    .default(null),
  correlationId: z.string().min(1),
  createdAt: IsoTimeSchema,
  createdBy: z.string(),
  updatedAt: IsoTimeSchema,
  status: z.strictObject({
    phase: TenantPhaseSchema,
    message: z.string().default(''),
    observedGeneration: z.number().int().nonnegative().default(0),
    namespace: z.string().nullable().default(null),
    readyAt: IsoTimeSchema.nullable().default(null),
    /** From the command to ready, as the agent measured it. */
    readyMs: z.number().nonnegative().nullable().default(null),
    vcluster: z
      .strictObject({ server: z.string(), healthy: z.boolean(), checkedAt: IsoTimeSchema })
      .nullable()
      .default(null),
    placements: z.array(PlacementSchema).default([]),
    pool: PoolStatusSchema.nullable().default(null),
    alerts: z.array(ActiveAlertSchema).default([]),
    usage: TenantUsageSchema.nullable().default(null),
    lastUpgrade: z
      .strictObject({
        correlationId: z.string(),
        outcome: z.enum(['Completed', 'Failed']),
        downtimeMs: z.number().nonnegative().nullable(),
        workloads: z.number().int().nonnegative(),
        at: IsoTimeSchema,
        message: z.string(),
      })
      .nullable()
      .default(null),
  }),
  /** The standard tier's kubeconfig waits here until its admin fetches it, once. */
  kubeconfig: z
    .strictObject({
      pending: z.string().nullable(),
      deliveredAt: IsoTimeSchema.nullable(),
      deliveredTo: z.string().nullable(),
    })
    .default({ pending: null, deliveredAt: null, deliveredTo: null }),
});
export type TenantDoc = z.infer<typeof TenantDocSchema>;

/** Tenant-facing features gated by tier (GH-031). */
export const FeatureSchema = z.enum(['placementHistory', 'kubeconfigDelivery', 'manualScaling', 'dedicatedPool']);
export type Feature = z.infer<typeof FeatureSchema>;

/** `config/tenant-features`: read on every request, so a change applies without a restart. */
export const FeatureFlagsSchema = z.strictObject({
  tiers: z.record(TierSchema, z.record(FeatureSchema, z.boolean())),
});
export type FeatureFlags = z.infer<typeof FeatureFlagsSchema>;

export const DEFAULT_FEATURE_FLAGS: FeatureFlags = {
  tiers: {
    dev: { placementHistory: false, kubeconfigDelivery: false, manualScaling: false, dedicatedPool: false },
    standard: { placementHistory: true, kubeconfigDelivery: true, manualScaling: true, dedicatedPool: false },
    dedicated: { placementHistory: true, kubeconfigDelivery: false, manualScaling: true, dedicatedPool: true },
  },
};

export function featureEnabled(flags: FeatureFlags, tier: Tier, feature: Feature): boolean {
  return flags.tiers[tier]?.[feature] ?? DEFAULT_FEATURE_FLAGS.tiers[tier][feature];
}

export const FeatureFlagsPatchSchema = z.strictObject({
  tier: TierSchema,
  feature: FeatureSchema,
  enabled: z.boolean(),
});

/* ---------- messages ---------- */

/** `tenant-commands`: what the agent must converge one tenant to. */
export const TenantCommandSchema = z.strictObject({
  commandId: z.string().min(1),
  tenant: TenantNameSchema,
  generation: z.number().int().positive(),
  action: z.enum(['apply', 'upgrade', 'delete']),
  spec: TenantSpecSchema,
  failAt: TenantUpgradeRequestSchema.shape.failAt,
  correlationId: z.string().min(1),
});
export type TenantCommand = z.infer<typeof TenantCommandSchema>;

export const QuotaWarningSchema = z.strictObject({
  reason: z.literal('QuotaExceeded'),
  namespace: z.string(),
  object: z.string(),
  message: z.string(),
  at: IsoTimeSchema,
});
export type QuotaWarning = z.infer<typeof QuotaWarningSchema>;

/** What the agent saw, for one tenant. */
export const TenantObservationSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('progress'),
    generation: z.number().int().positive(),
    phase: TenantPhaseSchema,
    message: z.string().default(''),
    namespace: z.string().nullable().default(null),
    readyMs: z.number().nonnegative().nullable().default(null),
    vcluster: z.strictObject({ server: z.string(), healthy: z.boolean() }).nullable().default(null),
    kubeconfig: z.string().nullable().default(null),
    placement: z
      .strictObject({ nodes: z.array(z.string()), namespace: z.string(), reason: z.string() })
      .nullable()
      .default(null),
    upgrade: z
      .strictObject({
        outcome: z.enum(['Started', 'Completed', 'Failed']),
        downtimeMs: z.number().nonnegative().nullable().default(null),
        workloads: z.number().int().nonnegative().default(0),
        step: z.string().default(''),
      })
      .nullable()
      .default(null),
  }),
  z.strictObject({ kind: z.literal('pool'), pool: PoolStatusSchema }),
  z.strictObject({
    kind: z.literal('usage'),
    usage: TenantUsageSchema,
    /** Standard tier: whether the vcluster's /readyz answered 200 at this sample. */
    vcluster: z.strictObject({ server: z.string(), healthy: z.boolean() }).nullable().optional(),
  }),
  z.strictObject({ kind: z.literal('warning'), warning: QuotaWarningSchema }),
]);
export type TenantObservation = z.infer<typeof TenantObservationSchema>;

/** `tenant-requests`: "look at this tenant again", or what the agent observed. */
export const TenantMessageSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('reconcile'),
    tenant: TenantNameSchema,
    reason: z.string(),
    correlationId: z.string().min(1),
  }),
  z.strictObject({
    kind: z.literal('observed'),
    tenant: TenantNameSchema,
    agentId: z.string().min(1),
    at: IsoTimeSchema,
    correlationId: z.string().min(1),
    observation: TenantObservationSchema,
  }),
]);
export type TenantMessage = z.infer<typeof TenantMessageSchema>;

/** What the API shows of a tenant: never the pending kubeconfig itself, only whether there is one. */
export const TenantViewSchema = TenantDocSchema.omit({ kubeconfig: true }).extend({
  kubeconfig: z.strictObject({
    available: z.boolean(),
    deliveredAt: IsoTimeSchema.nullable(),
    deliveredTo: z.string().nullable(),
  }),
});
export type TenantView = z.infer<typeof TenantViewSchema>;

export function tenantView(doc: TenantDoc): TenantView {
  const { kubeconfig, ...rest } = doc;
  return {
    ...rest,
    kubeconfig: {
      available: kubeconfig.pending !== null,
      deliveredAt: kubeconfig.deliveredAt,
      deliveredTo: kubeconfig.deliveredTo,
    },
  };
}
