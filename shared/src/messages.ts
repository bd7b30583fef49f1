import { z } from 'zod';
import { RectSchema } from './geometry';
import { HistogramSchema, IsoTimeSchema } from './model';
import { HandoffTargetSchema } from './sessions';
import { NameSchema, CapacitySchema } from './world';

/** Every message carries the correlation id of the operation it belongs to. */
const Correlated = { correlationId: z.string().min(1) };

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
