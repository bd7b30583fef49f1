import { z } from 'zod';
import { RectSchema } from './geometry';
import { LoadHistorySchema } from './load-history';
import { NameSchema, WorldSpecSchema } from './world';

/** ISO-8601 instant; every stored time is one of these (sortable as text). */
export const IsoTimeSchema = z.iso.datetime({ offset: true });

export const WorldPhaseSchema = z.enum(['Pending', 'Initializing', 'Ready', 'Degraded', 'Deleting']);
export type WorldPhase = z.infer<typeof WorldPhaseSchema>;

export const ConditionSchema = z.strictObject({
  type: z.string(),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string(),
  message: z.string().default(''),
  lastTransitionTime: IsoTimeSchema,
});
export type Condition = z.infer<typeof ConditionSchema>;

/** Zeroed world counters. */
export function emptyStats() {
  return {
    splits: 0,
    merges: 0,
    rollbacks: 0,
    recoveries: 0,
    sessionsReassigned: 0,
    splitCooldownBlocks: 0,
    splitRateLimitHits: 0,
  };
}

export const WorldStatusSchema = z.strictObject({
  phase: WorldPhaseSchema,
  ready: z.boolean(),
  conditions: z.array(ConditionSchema).default([]),
  cellsActive: z.number().int().nonnegative(),
  routingEpoch: z.number().int().nonnegative(),
  generation: z.number().int().positive(),
  observedGeneration: z.number().int().nonnegative(),
  /** Set once, when every initial cell first reported ready (WorldInitialized). */
  initializedAt: IsoTimeSchema.optional(),
  /** Cumulative counters, kept in the world so any function instance reports the same totals. */
  stats: z
    .strictObject({
      splits: z.number().int().nonnegative(),
      merges: z.number().int().nonnegative(),
      rollbacks: z.number().int().nonnegative(),
      recoveries: z.number().int().nonnegative(),
      sessionsReassigned: z.number().int().nonnegative(),
      splitCooldownBlocks: z.number().int().nonnegative(),
      splitRateLimitHits: z.number().int().nonnegative(),
    })
    .default(emptyStats()),
});
export type WorldStatus = z.infer<typeof WorldStatusSchema>;

/** `worlds/{name}` */
export const WorldDocSchema = z.strictObject({
  name: NameSchema,
  labels: z.record(z.string(), z.string()).default({}),
  spec: WorldSpecSchema,
  /** Hash of the canonical spec: re-applying the same spec is a no-op. */
  specHash: z.string(),
  status: WorldStatusSchema,
  createdAt: IsoTimeSchema,
  updatedAt: IsoTimeSchema,
  /** Correlation id of the apply that created this generation. */
  correlationId: z.string(),
  deletionRequestedAt: IsoTimeSchema.optional(),
  /**
   * Bumped by every write that changes the world's cells or operations. Reconcile
   * passes commit on the condition that the world document is still as they read it,
   * so a writer that changed cells without touching it would go unseen.
   */
  revision: z.number().int().nonnegative().optional(),
});
export type WorldDoc = z.infer<typeof WorldDocSchema>;

export const CellStateSchema = z.enum(['Pending', 'Ready', 'Splitting', 'Merging', 'Draining', 'Terminated', 'Failed']);
export type CellState = z.infer<typeof CellStateSchema>;

export const LoadSampleSchema = z.strictObject({
  at: IsoTimeSchema,
  sessions: z.number().int().nonnegative(),
  cpuMillis: z.number().nonnegative(),
  memoryMiB: z.number().nonnegative(),
});

/** Sessions per equal-width bin along each axis of the cell (what a load-aware cut balances). */
export const HistogramSchema = z.strictObject({
  x: z.array(z.number().int().nonnegative()).max(64),
  y: z.array(z.number().int().nonnegative()).max(64),
});
export type LoadSample = z.infer<typeof LoadSampleSchema>;

/** How many samples a cell doc keeps: bounded so a hot cell never grows its document. */
export const LOAD_WINDOW_SIZE = 60;

/** `worlds/{world}/cells/{cell}` */
export const CellDocSchema = z.strictObject({
  id: z.string().min(1).max(120),
  world: NameSchema,
  boundary: RectSchema,
  parent: z.string().nullable().default(null),
  /** Ancestors, oldest first. */
  lineage: z.array(z.string()).default([]),
  state: CellStateSchema,
  /** Incremented each time the cell is (re)started; reports for older incarnations are stale. */
  incarnation: z.number().int().positive(),
  endpoint: z.string().nullable().default(null),
  /** Set when the last start command was sent; the reconciler re-sends after a while. */
  startRequestedAt: IsoTimeSchema.nullable().default(null),
  stopRequestedAt: IsoTimeSchema.nullable().default(null),
  readyAt: IsoTimeSchema.nullable().default(null),
  lastReportAt: IsoTimeSchema.nullable().default(null),
  load: z.strictObject({
    sessions: z.number().int().nonnegative(),
    cpuMillis: z.number().nonnegative(),
    memoryMiB: z.number().nonnegative(),
    window: z.array(LoadSampleSchema).max(LOAD_WINDOW_SIZE),
    /** Position histogram of the latest sample. */
    hist: HistogramSchema.nullable().default(null),
    /** Extremes of the samples older than the window (sustains longer than it). */
    history: LoadHistorySchema.nullable().default(null),
  }),
  /** The last blocked scaling attempt, so a blocked cell is counted and announced once per reason. */
  blocked: z.strictObject({ why: z.string(), at: IsoTimeSchema }).nullable().default(null),
  exitReason: z.string().nullable().default(null),
  /** In the routing table: owns its region now. */
  routable: z.boolean().default(false),
  /** A split child or merge target: Ready does not make it routable; the hand-off does. */
  holdRouting: z.boolean().default(false),
  /**
   * The hand-off this cell reported, as a source of an operation. Kept on the cell,
   * not the operation, so the siblings of a merge report without contending on one document.
   */
  handoff: z.strictObject({ operation: z.string(), moved: z.number().int().nonnegative() }).nullable().default(null),
  createdAt: IsoTimeSchema,
  updatedAt: IsoTimeSchema,
  correlationId: z.string(),
});
export type CellDoc = z.infer<typeof CellDocSchema>;

/** Cells that hold (or are about to hold) part of the world. */
export function isLiveCell(c: Pick<CellDoc, 'state'>): boolean {
  return c.state !== 'Terminated' && c.state !== 'Failed';
}

/**
 * `worlds/{world}/loads/{cell}`: the load window, kept apart from the cell's control
 * document so that samples written every second never contend with the
 * transactions that change cell state.
 */
const loadDocFields = {
  cell: z.string().min(1),
  incarnation: z.number().int().positive(),
  sessions: z.number().int().nonnegative(),
  cpuMillis: z.number().nonnegative(),
  memoryMiB: z.number().nonnegative(),
  hist: HistogramSchema.nullable().default(null),
  /** What left the window, folded (see LoadHistorySchema); null until the window first overflows. */
  history: LoadHistorySchema.nullable().default(null),
  lastReportAt: IsoTimeSchema,
};

/**
 * The window as stored: one array per field (times in epoch ms) instead of one map per
 * sample. Every reconcile reads every cell's window, and at 64 cells the per-sample maps
 * (field names and ISO strings repeated 60 times) were most of the bytes it read.
 */
const PackedWindowSchema = z
  .strictObject({
    at: z.array(z.number().int().nonnegative()).max(LOAD_WINDOW_SIZE),
    sessions: z.array(z.number().int().nonnegative()).max(LOAD_WINDOW_SIZE),
    cpuMillis: z.array(z.number().nonnegative()).max(LOAD_WINDOW_SIZE),
    memoryMiB: z.array(z.number().nonnegative()).max(LOAD_WINDOW_SIZE),
  })
  .refine((p) => [p.sessions, p.cpuMillis, p.memoryMiB].every((a) => a.length === p.at.length), {
    message: 'packed window arrays must have the same length',
  });

/**
 * `worlds/{w}/loads/{cell}`, read into its logical form (`window` of samples). Stored
 * packed (`packLoadDoc`); documents written before packing (`window`) still parse.
 */
export const LoadDocSchema = z.union([
  z.strictObject({ ...loadDocFields, window: z.array(LoadSampleSchema).max(LOAD_WINDOW_SIZE) }),
  z.strictObject({ ...loadDocFields, packed: PackedWindowSchema }).transform(({ packed, ...rest }) => ({
    ...rest,
    window: packed.at.map((t, i) => ({
      at: new Date(t).toISOString(),
      sessions: packed.sessions[i]!,
      cpuMillis: packed.cpuMillis[i]!,
      memoryMiB: packed.memoryMiB[i]!,
    })),
  })),
]);
export type LoadDoc = z.output<typeof LoadDocSchema>;

/** A load document as stored: its window packed (see PackedWindowSchema). */
export function packLoadDoc(doc: LoadDoc): Record<string, unknown> {
  const { window, ...rest } = doc;
  return {
    ...rest,
    packed: {
      at: window.map((s) => Date.parse(s.at)),
      sessions: window.map((s) => s.sessions),
      cpuMillis: window.map((s) => s.cpuMillis),
      memoryMiB: window.map((s) => s.memoryMiB),
    },
  };
}

export function emptyLoad(): CellDoc['load'] {
  return { sessions: 0, cpuMillis: 0, memoryMiB: 0, window: [], hist: null, history: null };
}

/**
 * `agents/{agentId}`: the last heartbeat of an agent, as the control plane received it.
 * Agent liveness is this, apart from any cell's reports.
 */
export const AgentDocSchema = z.strictObject({
  agentId: z.string().min(1),
  bootId: z.string().min(1),
  startedAt: IsoTimeSchema,
  /** The agent's clock when it sent the heartbeat. */
  sentAt: IsoTimeSchema,
  /** The control plane's clock when the heartbeat was recorded: what staleness is measured against. */
  receivedAt: IsoTimeSchema,
  seq: z.number().int().nonnegative(),
  driver: z.string().min(1),
  cells: z.number().int().nonnegative(),
  adopted: z.boolean(),
  /** Idle, ready cells in its warm pool at the heartbeat. */
  warm: z.number().int().nonnegative().default(0),
  /** Idle cells it keeps (0: no pool). */
  warmTarget: z.number().int().nonnegative().default(0),
  /** Boots seen for this agent id: a restart shows as a new boot. */
  restarts: z.number().int().nonnegative().default(0),
});
export type AgentDoc = z.infer<typeof AgentDocSchema>;
