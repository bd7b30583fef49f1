import {
  ApplyResultSchema,
  CellListSchema,
  DeleteResultSchema,
  EventListSchema,
  TokenCreateRequestSchema,
  TokenCreateResponseSchema,
  WorldListSchema,
  WorldManifestSchema,
  WorldViewSchema,
} from '@fleetforge/shared';
import { listEvents } from './events';
import { json, type Route } from './http';
import { metricsText } from './metrics';
import { openApiDocument } from './openapi';
import { createToken, whoami } from './tokens';
import { applyWorld, deleteWorld, getWorld, listCells, listWorlds } from './worlds';

export const ROUTES: Route[] = [
  {
    method: 'GET',
    path: '/healthz',
    permission: null,
    summary: 'Liveness',
    handler: async () => json(200, { ok: true }),
  },
  {
    method: 'GET',
    path: '/readyz',
    permission: null,
    summary: 'Readiness: Firestore answers',
    handler: async (ctx) => {
      await ctx.deps.store.get('config/readiness');
      return json(200, { ok: true });
    },
  },
  {
    method: 'GET',
    path: '/metrics',
    permission: null,
    summary: 'Prometheus metrics',
    handler: (ctx) => metricsText(ctx),
  },
  {
    method: 'GET',
    path: '/v1/openapi.json',
    permission: null,
    summary: 'This document',
    handler: async () => json(200, openApiDocument(ROUTES)),
  },
  { method: 'GET', path: '/v1/whoami', permission: null, summary: 'The caller', handler: whoami },
  {
    method: 'POST',
    path: '/v1/worlds',
    permission: 'worlds:write',
    summary: 'Apply a World manifest (create or update; idempotent; JSON or YAML)',
    requestSchema: WorldManifestSchema,
    responseSchema: ApplyResultSchema,
    handler: applyWorld,
  },
  {
    method: 'GET',
    path: '/v1/worlds',
    permission: 'worlds:read',
    summary: 'List worlds',
    responseSchema: WorldListSchema,
    handler: listWorlds,
  },
  {
    method: 'GET',
    path: '/v1/worlds/{name}',
    permission: 'worlds:read',
    summary: 'Get a world',
    responseSchema: WorldViewSchema,
    handler: getWorld,
  },
  {
    method: 'DELETE',
    path: '/v1/worlds/{name}',
    permission: 'worlds:write',
    summary: 'Delete a world: its cells are stopped, then it is removed',
    responseSchema: DeleteResultSchema,
    handler: deleteWorld,
  },
  {
    method: 'GET',
    path: '/v1/worlds/{name}/cells',
    permission: 'worlds:read',
    summary: 'List the cells of a world',
    responseSchema: CellListSchema,
    handler: listCells,
  },
  {
    method: 'GET',
    path: '/v1/events',
    permission: 'events:read',
    summary: 'Lifecycle events, oldest first',
    query: {
      world: 'only this world',
      type: 'only this event type',
      correlation: 'only this correlation id',
      since: 'ISO time; only later events',
      limit: 'at most this many (default 200, max 1000)',
    },
    responseSchema: EventListSchema,
    handler: listEvents,
  },
  {
    method: 'POST',
    path: '/v1/tokens',
    permission: 'tokens:manage',
    summary: 'Create an API token for a role (the token is shown once)',
    requestSchema: TokenCreateRequestSchema,
    responseSchema: TokenCreateResponseSchema,
    handler: createToken,
  },
];
