import { z } from 'zod';
import { UsageReportSchema } from '../billing/usage';
import { RectSchema } from '../world/geometry';
import { HistogramSchema, IsoTimeSchema } from '../world/model';
import { HandoffTargetSchema } from '../elasticity/sessions';
import { TenantNameSchema, TierSchema } from '../tenancy/tenancy';
import { NameSchema, CapacitySchema } from '../world/world';

/** Every message carries the correlation id of the operation it belongs to. */
const Correlated = { correlationId: z.string().min(1) };

/**
 * The world's `spec.warmPool.size`, carried by starts and syncs so the agent learns it
 * level-based; null: the sender did not say (the agent keeps what it knew).
 */
const WarmPoolField = { warmPool: z.number().int().nonnegative().max(64).nullable().default(null) };

/** `world-reconcile`: "look at this world again". Level-based, so duplicates are harmless. */
export const WorldReconcileMessageSchema = z.strictObject({
  world: NameSchema,
  reason: z.string(),
  ...Correlated,
});
export type WorldReconcileMessage = z.infer<typeof WorldReconcileMessageSchema>;

const CellRef = {
  commandId: z.string().min(1),
  world: NameSchema,
  cell: z.string().min(1),
  incarnation: z.number().int().positive(),
  ...Correlated,
};

/**
 * Which generation of the world (its creation time). A world deleted and applied again
 * reuses its cell names and incarnations, so the generation tells them apart: durable
 * session checkpoints are scoped by it, and so are the agent's records of stopped cells
 * (a stop of the old world must not refuse the new world's start). '0': a command from
 * before commands carried it.
 */
const GenerationField = { generation: z.string().min(1).max(64).default('0') };

const CellIncarnationSchema = z.strictObject({ cell: z.string().min(1), incarnation: z.number().int().positive() });

/** `agent-commands`: what the agent must converge to. Idempotent by (world, cell, incarnation). */
export const AgentCommandSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('start'),
    ...CellRef,
    boundary: RectSchema,
    capacity: CapacitySchema,
    /** Routing epoch the cell starts in. */
    epoch: z.number().int().positive().default(1),
    /** Test switch: the cell never reports ready (to exercise rollback). */
    neverReady: z.boolean().default(false),
    ...GenerationField,
    /**
     * Whom the cell's usage is billed to: its world's tenant, and that tenant's tier when
     * the command was made (the agent's meter attributes the cell to both). Null: the
     * platform tenant (a world naming none, or a command from before worlds named one),
     * which the agent is configured with (FF_METER_TENANT); a null tier, its FF_METER_TIER.
     */
    tenant: TenantNameSchema.nullable().default(null),
    tier: TierSchema.nullable().default(null),
    ...WarmPoolField,
  }),
  z.strictObject({
    kind: z.literal('handoff'),
    ...CellRef,
    operation: z.string().min(1),
    epoch: z.number().int().positive(),
    targets: z.array(HandoffTargetSchema).min(1),
  }),
  z.strictObject({
    kind: z.literal('stop'),
    ...CellRef,
    reason: z.string(),
    ...GenerationField,
  }),
  /**
   * Level-based reconciliation of what runs against what should. `cells`: those the
   * control plane believes serving (the agent reported them ready); the agent answers
   * `exited` (reason NotRunning) for each one it does not run, which is positive
   * evidence, never a guess from silence. `keep`: every incarnation the control plane
   * still wants (any state short of Terminated/Failed); a cell of this world running
   * outside it is an orphan (its stop was lost, or its world is gone), stopped by the
   * agent once two syncs at least a sweep apart agree.
   */
  z.strictObject({
    kind: z.literal('sync'),
    commandId: z.string().min(1),
    world: NameSchema,
    cells: z.array(CellIncarnationSchema).max(4096),
    keep: z.array(CellIncarnationSchema).max(4096),
    ...GenerationField,
    ...WarmPoolField,
    ...Correlated,
  }),
]);
export type AgentCommand = z.infer<typeof AgentCommandSchema>;

export const AgentReportKindSchema = z.enum(['started', 'ready', 'exited', 'stopped', 'handedOff']);
export type AgentReportKind = z.infer<typeof AgentReportKindSchema>;

/** `agent-reports`: what the agent observed. Reports for an older incarnation are ignored. */
export const AgentReportSchema = z.strictObject({
  agentId: z.string().min(1),
  kind: AgentReportKindSchema,
  world: NameSchema,
  cell: z.string().min(1),
  incarnation: z.number().int().positive(),
  at: IsoTimeSchema,
  endpoint: z.string().nullable().default(null),
  exitCode: z.number().int().nullable().default(null),
  reason: z.string().default(''),
  /** handedOff: the operation and how many sessions the cell has handed over. */
  operation: z.string().nullable().default(null),
  moved: z.number().int().nonnegative().nullable().default(null),
  ...Correlated,
});
export type AgentReport = z.infer<typeof AgentReportSchema>;

/**
 * `agent-reports`, kind heartbeat: the agent's own liveness, apart from any cell's.
 * `bootId` changes when the agent process restarts; `seq` grows within one boot.
 */
export const AgentHeartbeatSchema = z.strictObject({
  kind: z.literal('heartbeat'),
  agentId: z.string().min(1),
  bootId: z.string().min(1),
  startedAt: IsoTimeSchema,
  at: IsoTimeSchema,
  seq: z.number().int().nonnegative(),
  driver: z.string().min(1),
  /** Cells the driver runs now. */
  cells: z.number().int().nonnegative(),
  /** Adoption of cells left by an earlier agent process is complete. */
  adopted: z.boolean(),
  /** Worlds it runs cells of (a world the control plane no longer has gets an empty sync). */
  worlds: z.array(NameSchema).max(1024),
  /** Idle, ready cells in its warm pool now (see WorldSpec.warmPool); older agents send none. */
  warm: z.number().int().nonnegative().default(0),
  /** Idle cells it is keeping (0: its driver has no pool, so splits have no warm cells to wait for). */
  warmTarget: z.number().int().nonnegative().default(0),
  correlationId: z.string().min(1),
});
export type AgentHeartbeat = z.infer<typeof AgentHeartbeatSchema>;

/** Everything on `agent-reports`: cell observations, agent heartbeats and usage samples. */
/**
 * Reports the agent made within a few milliseconds of each other, for one world, in one
 * message: the children of a split become ready together, and one delivery (one
 * reconcile pass) applies them all instead of one delivery each.
 */
export const AgentReportBatchSchema = z.strictObject({
  kind: z.literal('reports'),
  agentId: z.string().min(1),
  world: NameSchema,
  reports: z.array(AgentReportSchema).min(1).max(256),
  correlationId: z.string().min(1),
});
export type AgentReportBatch = z.infer<typeof AgentReportBatchSchema>;

export const AgentMessageSchema = z.union([
  AgentHeartbeatSchema,
  UsageReportSchema,
  AgentReportSchema,
  AgentReportBatchSchema,
]);
export type AgentMessage = z.infer<typeof AgentMessageSchema>;

export const CellSampleSchema = z.strictObject({
  cell: z.string().min(1),
  incarnation: z.number().int().positive(),
  at: IsoTimeSchema,
  sessions: z.number().int().nonnegative(),
  cpuMillis: z.number().nonnegative(),
  memoryMiB: z.number().nonnegative(),
  hist: HistogramSchema.optional(),
});
export type CellSample = z.infer<typeof CellSampleSchema>;

/** `cell-metrics`: one batch per world per tick from the agent's relay. */
export const CellMetricsMessageSchema = z.strictObject({
  world: NameSchema,
  agentId: z.string().min(1),
  samples: z.array(CellSampleSchema).min(1).max(256),
});
export type CellMetricsMessage = z.infer<typeof CellMetricsMessageSchema>;
