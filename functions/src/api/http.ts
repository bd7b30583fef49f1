import { FleetError, allows, type Permission, type Principal } from '@fleetforge/shared';
import type { z } from 'zod';
import type { Deps } from '../deps';

/** The API's view of a request, independent of Express so handlers test without a server. */
export interface ApiRequest {
  method: string;
  path: string;
  query: Record<string, string | undefined>;
  headers: Record<string, string | undefined>;
  /** Parsed JSON body when the client sent JSON. */
  body: unknown;
  rawBody: Buffer | undefined;
}

export interface ApiResponse {
  status: number;
  body: unknown;
  contentType?: string;
}

export interface RouteContext {
  deps: Deps;
  req: ApiRequest;
  params: Record<string, string>;
  principal: Principal | undefined;
  correlationId: string;
  log: Deps['log'];
}

export interface Route {
  method: 'GET' | 'POST' | 'DELETE' | 'PUT' | 'PATCH';
  /** OpenAPI-style template: `/v1/worlds/{name}`. */
  path: string;
  /** null: public (health, metrics, the OpenAPI document). */
  permission: Permission | null;
  summary: string;
  /** For the OpenAPI document. */
  requestSchema?: z.ZodType;
  responseSchema?: z.ZodType;
  query?: Record<string, string>;
  handler: (ctx: RouteContext) => Promise<ApiResponse>;
}

export function requirePermission(principal: Principal | undefined, permission: Permission): Principal {
  if (!principal) throw new FleetError('UNAUTHENTICATED', 'missing or unknown bearer token');
  if (!allows(principal.role, permission)) {
    throw new FleetError('PERMISSION_DENIED', `role ${principal.role} lacks permission ${permission}`);
  }
  return principal;
}

export function json(status: number, body: unknown): ApiResponse {
  return { status, body };
}
