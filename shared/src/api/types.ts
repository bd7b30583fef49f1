import { z } from 'zod';
import { MAX_TOKEN_TTL_SECONDS, RoleSchema } from './auth';
import { LifecycleEventSchema } from '../world/events';
import { RectSchema } from '../world/geometry';
import { CellStateSchema, ConditionSchema, WorldPhaseSchema } from '../world/model';
import { NameSchema, WorldSpecSchema } from '../world/world';

/** Shapes the API answers with; ffctl parses responses with the same schemas. */

export const WorldViewSchema = z.object({
  name: NameSchema,
  labels: z.record(z.string(), z.string()),
  spec: WorldSpecSchema,
  status: z.object({
    phase: WorldPhaseSchema,
    ready: z.boolean(),
    cellsActive: z.number().int(),
    routingEpoch: z.number().int(),
    generation: z.number().int(),
    observedGeneration: z.number().int(),
    conditions: z.array(ConditionSchema),
    initializedAt: z.string().nullable(),
  }),
  createdAt: z.string(),
  updatedAt: z.string(),
  correlationId: z.string(),
});
export type WorldView = z.infer<typeof WorldViewSchema>;

export const ApplyResultSchema = z.object({
  result: z.enum(['created', 'updated', 'unchanged']),
  world: WorldViewSchema,
});
export type ApplyResult = z.infer<typeof ApplyResultSchema>;

export const CellViewSchema = z.object({
  id: z.string(),
  state: CellStateSchema,
  boundary: RectSchema,
  endpoint: z.string().nullable(),
  sessions: z.number().int(),
  cpuMillis: z.number(),
  memoryMiB: z.number(),
  parent: z.string().nullable(),
  incarnation: z.number().int(),
  readyAt: z.string().nullable(),
  lastReportAt: z.string().nullable(),
});
export type CellView = z.infer<typeof CellViewSchema>;

export const WorldListSchema = z.object({ items: z.array(WorldViewSchema) });
export const CellListSchema = z.object({ items: z.array(CellViewSchema) });
export const EventListSchema = z.object({ items: z.array(LifecycleEventSchema) });

export const EventQuerySchema = z.strictObject({
  world: NameSchema.optional(),
  tenant: NameSchema.optional(),
  type: z.string().optional(),
  correlation: z.string().optional(),
  /** ISO time; only events after it. */
  since: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().positive().max(1000).default(200),
});

export const TokenCreateRequestSchema = z.strictObject({
  name: NameSchema,
  role: RoleSchema,
  tenant: NameSchema.optional(),
  /** Lifetime; default DEFAULT_TOKEN_TTL_SECONDS (30 days), at most 366 days. */
  ttlSeconds: z.number().int().min(60).max(MAX_TOKEN_TTL_SECONDS).optional(),
});
export const TokenCreateResponseSchema = z.object({
  /** What `ffctl token revoke` takes. */
  id: z.string().optional(),
  name: NameSchema,
  role: RoleSchema,
  expiresAt: z.string().nullable().optional(),
  /** Shown once; only its hash is stored. */
  token: z.string(),
});

/** A token as `GET /v1/tokens` lists it: never the secret, never the full hash. */
export const TokenViewSchema = z.object({
  id: z.string(),
  name: NameSchema,
  role: RoleSchema,
  tenant: z.string().nullable(),
  status: z.enum(['active', 'expired', 'revoked']),
  createdAt: z.string(),
  createdBy: z.string(),
  expiresAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
});
export type TokenView = z.infer<typeof TokenViewSchema>;
export const TokenListSchema = z.object({ items: z.array(TokenViewSchema) });

export const DeleteResultSchema = z.object({ result: z.enum(['deleting']), world: z.string() });

export const ErrorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    retryable: z.boolean(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    /** Machine-readable specifics, e.g. `{ reason: 'StaleEpoch', epoch: 3 }` from a cell. */
    details: z.record(z.string(), z.unknown()).optional(),
  }),
});

/** `GET /v1/worlds/{name}/routing`: which cell owns which region, at which epoch. Clients route by position with it. */
export const RoutingTableSchema = z.object({
  world: z.string(),
  epoch: z.number().int().positive(),
  bounds: RectSchema,
  cells: z.array(z.object({ id: z.string(), boundary: RectSchema, endpoint: z.string() })),
});
export type RoutingTable = z.infer<typeof RoutingTableSchema>;
