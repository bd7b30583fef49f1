import { z } from 'zod';
import {
  CellViewSchema,
  EventListSchema,
  ExportDocSchema,
  LifecycleEventSchema,
  OperationDocSchema,
  TenantViewSchema,
  WorldListSchema,
  WorldViewSchema,
} from '@fleetforge/shared';
import { ApiError, CliError, type ApiClient } from '../ffctl/client';

/**
 * One section of the dashboard: its data, or why it could not be read (a token
 * without the permission gets `denied`, and the page says so instead of failing).
 */
function section<T extends z.ZodType>(data: T) {
  return z.discriminatedUnion('ok', [
    z.object({ ok: z.literal(true), data }),
    z.object({ ok: z.literal(false), denied: z.boolean(), error: z.string() }),
  ]);
}

export const DashboardWorldSchema = z.object({
  world: WorldViewSchema,
  cells: z.array(CellViewSchema),
  /** Newest first, at most {@link OPERATIONS_PER_WORLD}. */
  operations: z.array(OperationDocSchema),
});
export type DashboardWorld = z.infer<typeof DashboardWorldSchema>;

/** What the page renders; sent whole on every change (small: a few hundred KB at 64 cells). */
export const DashboardSnapshotSchema = z.object({
  at: z.string(),
  api: z.string(),
  worlds: section(z.array(DashboardWorldSchema)),
  /** Newest first. */
  events: section(z.array(LifecycleEventSchema)),
  tenants: section(z.array(TenantViewSchema)),
  /** The latest billing export, or null before the first. */
  billing: section(ExportDocSchema.nullable()),
});
export type DashboardSnapshot = z.infer<typeof DashboardSnapshotSchema>;

export const OPERATIONS_PER_WORLD = 50;
export const EVENTS_SHOWN = 300;

const OperationListSchema = z.object({ items: z.array(OperationDocSchema) });
const TenantListSchema = z.object({ items: z.array(TenantViewSchema) });
const ExportListSchema = z.object({ items: z.array(ExportDocSchema) });

type Section<T> = { ok: true; data: T } | { ok: false; denied: boolean; error: string };

async function read<T>(fn: () => Promise<T>): Promise<Section<T>> {
  try {
    return { ok: true, data: await fn() };
  } catch (err) {
    // Anything but an API answer or an unreachable API is a bug: let it surface.
    if (!(err instanceof CliError)) throw err;
    const denied = err instanceof ApiError && (err.status === 403 || err.status === 401);
    return { ok: false, denied, error: err.message };
  }
}

/**
 * Reads everything the dashboard shows through the public API, as the token's
 * owner: the dashboard has no access of its own, so it can never show more than
 * `ffctl` would to the same person.
 */
export async function collectSnapshot(client: ApiClient, now: Date = new Date()): Promise<DashboardSnapshot> {
  const [worlds, events, tenants, billing] = await Promise.all([
    read(async () => {
      const list = await client.request('GET', '/v1/worlds', WorldListSchema);
      return Promise.all(
        list.items.map(async (world) => {
          const name = encodeURIComponent(world.name);
          const [cells, ops] = await Promise.all([
            client.request('GET', `/v1/worlds/${name}/cells`, z.object({ items: z.array(CellViewSchema) })),
            client.request('GET', `/v1/worlds/${name}/operations`, OperationListSchema),
          ]);
          const operations = [...ops.items]
            .sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1))
            .slice(0, OPERATIONS_PER_WORLD);
          return { world, cells: cells.items, operations };
        }),
      );
    }),
    read(async () => {
      const r = await client.request('GET', `/v1/events?limit=${EVENTS_SHOWN}`, EventListSchema);
      return [...r.items].sort((a, b) => (a.id < b.id ? 1 : -1));
    }),
    read(async () => (await client.request('GET', '/v1/tenants', TenantListSchema)).items),
    read(async () => {
      const r = await client.request('GET', '/v1/billing/exports', ExportListSchema);
      return r.items.reduce<z.infer<typeof ExportDocSchema> | null>(
        (latest, e) => (latest === null || e.seq > latest.seq ? e : latest),
        null,
      );
    }),
  ]);
  return { at: now.toISOString(), api: client.endpoint.api, worlds, events, tenants, billing };
}
