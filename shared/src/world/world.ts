import { z } from 'zod';
import { RectSchema, grid, gridProblems } from './geometry';

/** DNS-1123 label: the name is used in Pod names, process names and Firestore paths. */
export const NameSchema = z
  .string()
  .min(1)
  .max(40)
  .regex(
    /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/,
    'must be lowercase letters, digits and "-", starting and ending alphanumeric',
  );

export const TopologySchema = z.strictObject({
  /** World bounds in integer world units. */
  bounds: RectSchema,
  /** Initial grid; it must divide the bounds exactly. */
  grid: z.strictObject({
    cols: z.number().int().positive().max(64),
    rows: z.number().int().positive().max(64),
  }),
});

/** The envelope one cell is sized for; load ratios are measured against it. */
export const CapacitySchema = z.strictObject({
  sessions: z.number().int().positive().default(500),
  cpuMillis: z.number().int().positive().default(1000),
  memoryMiB: z.number().int().positive().default(512),
});

export const SplitStrategySchema = z.enum(['halves', 'quads', 'load-aware']);

export const ScalingSchema = z.strictObject({
  /** A cell whose session count stays above this for `splitSustainSeconds` is split. */
  splitSessions: z.number().int().positive().default(400),
  /** Siblings whose sessions all stay below this for `mergeSustainSeconds` may merge. */
  mergeSessions: z.number().int().nonnegative().default(100),
  /** CPU load ratio (of capacity.cpuMillis) that also triggers a split. */
  splitCpuRatio: z.number().gt(0).max(1).default(0.85),
  splitSustainSeconds: z.number().int().nonnegative().max(3600).default(5),
  mergeSustainSeconds: z.number().int().nonnegative().max(86_400).default(30),
  cooldownSeconds: z.number().int().nonnegative().max(86_400).default(30),
  splitsPerMinuteGlobal: z.number().int().positive().default(6),
  splitsPerMinutePerCell: z.number().int().positive().default(1),
  /**
   * Automatic splits running at once (not yet Completed or RolledBack); further hot cells
   * wait, hottest first. Keeps a wave of splits from starting more cells than the warm
   * pool holds, whose cold starts would slow every split of the wave and fail readiness.
   */
  maxConcurrentSplits: z.number().int().positive().max(64).default(4),
  /** No side of a cell may become shorter than this many world units. */
  minCellSize: z.number().int().positive().default(16),
  maxCells: z.number().int().positive().max(256).default(16),
  strategy: SplitStrategySchema.default('load-aware'),
  readinessTimeoutSeconds: z.number().int().positive().max(600).default(10),
});

/** The same keys, all optional and with no defaults (`.partial()` would fill every default in). */
function overridesOf<T extends Record<string, z.ZodDefault<z.ZodType>>>(shape: T) {
  return z.strictObject(
    Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, v.unwrap().optional()])) as {
      [K in keyof T]: z.ZodOptional<ReturnType<T[K]['unwrap']>>;
    },
  );
}

/** Live overrides of scaling keys (`config/scaling`): any subset, the same rules per key. */
export const ScalingOverridesSchema = overridesOf(ScalingSchema.shape);
export type ScalingOverrides = z.infer<typeof ScalingOverridesSchema>;

export const PersistenceSchema = z.strictObject({
  /** Where cells keep session state; only the in-memory store exists today (GH-023). */
  sessionStore: z.enum(['memory']).default('memory'),
});

const DEFAULT_WARM_WAIT_SECONDS = 10;

/**
 * Idle cells kept started and ready for this world, so a split or merge assigns its
 * children to them instead of starting processes on its critical path (Agones keeps
 * a buffer of Ready game servers the same way). The agent refills the pool in the
 * background and caps its total across worlds (FF_WARM_MAX).
 */
export const WarmPoolSchema = z.strictObject({
  /** Idle ready cells to keep; a quads split takes 4, so 4 covers one split at a time. */
  size: z.number().int().nonnegative().max(64).describe('Idle, ready cells the agent keeps for this world (0: none).'),
  /**
   * How long an automatic split waits for the pool to hold a warm cell for each child
   * before starting them cold. Optional, not defaulted: worlds stored without it keep their spec hash.
   */
  waitSeconds: z
    .number()
    .int()
    .nonnegative()
    .max(20)
    .optional()
    .describe(
      `Seconds an automatic split waits for a warm cell per child before starting them cold (absent: ${DEFAULT_WARM_WAIT_SECONDS}; 0: never waits).`,
    ),
});
export type WarmPool = z.infer<typeof WarmPoolSchema>;

/**
 * The tenant a world belongs to when its manifest names none: the platform's own. Its
 * cells are billed to the agent's configured platform tenant (FF_METER_TENANT/FF_METER_TIER).
 */
export const PLATFORM_TENANT = 'platform';

const WorldSpecObject = z.strictObject({
  /**
   * Whom the world's cells are billed to: a tenant that exists (`ffctl tenant create`), on
   * that tenant's tier. Absent: the platform tenant. Fixed for the world's life.
   * Optional rather than defaulted, so manifests and stored worlds without it keep their spec hash.
   */
  tenant: NameSchema.optional().describe(
    `The tenant the world's cells are billed to, on its tier: an existing tenant (absent: "${PLATFORM_TENANT}", the platform's own). Cannot change on a live world.`,
  ),
  topology: TopologySchema,
  capacity: CapacitySchema.default(CapacitySchema.parse({})),
  scaling: ScalingSchema.default(ScalingSchema.parse({})),
  persistence: PersistenceSchema.default(PersistenceSchema.parse({})),
  /** Optional rather than defaulted, like `tenant`: worlds stored without it keep their spec hash. */
  warmPool: WarmPoolSchema.optional().describe(
    'Idle, ready cells kept for this world so splits and merges do not wait for a cell to start (absent: none).',
  ),
});

/** Cross-field rules; each issue names the field a user has to change. */
export const WorldSpecSchema = WorldSpecObject.superRefine((spec, ctx) => {
  const { bounds, grid: g } = spec.topology;
  for (const problem of gridProblems(bounds, g.cols, g.rows)) {
    ctx.addIssue({ code: 'custom', path: ['topology', 'grid'], message: problem });
  }
  const cells = g.cols * g.rows;
  if (cells > spec.scaling.maxCells) {
    ctx.addIssue({
      code: 'custom',
      path: ['topology', 'grid'],
      message: `grid has ${cells} cells, more than scaling.maxCells (${spec.scaling.maxCells})`,
    });
  }
  const cellW = Math.floor(bounds.width / g.cols);
  const cellH = Math.floor(bounds.height / g.rows);
  if (Math.min(cellW, cellH) < spec.scaling.minCellSize) {
    ctx.addIssue({
      code: 'custom',
      path: ['scaling', 'minCellSize'],
      message: `initial cells are ${cellW}x${cellH}, smaller than minCellSize ${spec.scaling.minCellSize}`,
    });
  }
  if (spec.scaling.mergeSessions >= spec.scaling.splitSessions) {
    ctx.addIssue({
      code: 'custom',
      path: ['scaling', 'mergeSessions'],
      message: `must be below splitSessions (${spec.scaling.splitSessions}) or cells would oscillate`,
    });
  }
  if (spec.warmPool && spec.warmPool.size > spec.scaling.maxCells) {
    ctx.addIssue({
      code: 'custom',
      path: ['warmPool', 'size'],
      message: `must not exceed scaling.maxCells (${spec.scaling.maxCells}): more idle cells than the world can ever use`,
    });
  }
  if (spec.scaling.splitSessions > spec.capacity.sessions) {
    ctx.addIssue({
      code: 'custom',
      path: ['scaling', 'splitSessions'],
      message: `must not exceed capacity.sessions (${spec.capacity.sessions})`,
    });
  }
});
export type WorldSpec = z.output<typeof WorldSpecSchema>;
export type WorldSpecInput = z.input<typeof WorldSpecSchema>;

/** Idle ready cells the agent should keep for a world (0 when its spec asks for none). */
export function warmPoolSize(spec: Pick<WorldSpec, 'warmPool'>): number {
  return spec.warmPool?.size ?? 0;
}

/**
 * How long an automatic split waits for warm cells, in ms (see WarmPoolSchema.waitSeconds);
 * 0 when the world keeps no pool, so there is nothing to wait for.
 */
export function warmWaitMs(spec: Pick<WorldSpec, 'warmPool'>): number {
  if (!spec.warmPool || spec.warmPool.size === 0) return 0;
  return (spec.warmPool.waitSeconds ?? DEFAULT_WARM_WAIT_SECONDS) * 1000;
}

/** The tenant a world belongs to: its `spec.tenant`, else the platform tenant. */
export function worldTenant(spec: Pick<WorldSpec, 'tenant'>): string {
  return spec.tenant ?? PLATFORM_TENANT;
}

export const WORLD_API_VERSION = 'fleetforge.dev/v1';

/** The manifest users apply (`ffctl world apply -f`), shaped like a Kubernetes object. */
export const WorldManifestSchema = z.strictObject({
  apiVersion: z.literal(WORLD_API_VERSION),
  kind: z.literal('World'),
  metadata: z.strictObject({
    name: NameSchema,
    labels: z.record(z.string(), z.string().max(63)).optional(),
  }),
  spec: WorldSpecSchema,
});
export type WorldManifest = z.output<typeof WorldManifestSchema>;

/** Stable id of an initial grid cell; children of later splits extend it (`r0c1.0`). */
export function gridCellId(row: number, col: number): string {
  return `r${row}c${col}`;
}

export interface DesiredCell {
  id: string;
  boundary: z.infer<typeof RectSchema>;
}

/** The cells a freshly applied world starts with. */
export function initialCells(spec: WorldSpec): DesiredCell[] {
  const { bounds, grid: g } = spec.topology;
  return grid(bounds, g.cols, g.rows).map((c) => ({ id: gridCellId(c.row, c.col), boundary: c.boundary }));
}
