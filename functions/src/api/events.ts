import {
  COLLECTIONS,
  EventQuerySchema,
  LifecycleEventSchema,
  parseOrThrow,
  type QueryFilter,
} from '@fleetforge/shared';
import { json, type ApiResponse, type AuthedContext } from './http';

/** `GET /v1/events?world=&tenant=&type=&correlation=&since=&limit=`, oldest first. */
export async function listEvents(ctx: AuthedContext): Promise<ApiResponse> {
  const q = parseOrThrow(EventQuerySchema, ctx.req.query, 'query', 'query');
  const where: QueryFilter[] = [];
  if (q.world) where.push({ field: 'world', op: '==', value: q.world });
  if (q.tenant) where.push({ field: 'tenant', op: '==', value: q.tenant });
  if (q.type) where.push({ field: 'type', op: '==', value: q.type });
  if (q.correlation) where.push({ field: 'correlationId', op: '==', value: q.correlation });
  if (q.since) where.push({ field: 'time', op: '>', value: q.since });
  const docs = await ctx.deps.store.list(COLLECTIONS.events, {
    where,
    orderBy: { field: 'time', direction: 'asc' },
    limit: q.limit,
  });
  return json(200, { items: docs.map((d) => parseOrThrow(LifecycleEventSchema, d.data, `document ${d.path}`)) });
}
