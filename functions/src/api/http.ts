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

/**
 * What a handler sees. `principal` is whoever the bearer token names; on a route
 * with a permission the router has already required it ({@link AuthedContext}),
 * so the handler gets a principal that holds the route's permission.
 */
export interface RouteContext<P extends Principal | undefined = Principal | undefined> {
  deps: Deps;
  req: ApiRequest;
  params: Record<string, string>;
  principal: P;
  correlationId: string;
  log: Deps['log'];
}

/** The context of a route with a permission: authenticated, and the permission checked. */
export type AuthedContext = RouteContext<Principal>;

interface RouteBase {
  method: 'GET' | 'POST' | 'DELETE' | 'PUT' | 'PATCH';
  /** OpenAPI-style template: `/v1/worlds/{name}`. */
  path: string;
  summary: string;
  /** For the OpenAPI document. */
  requestSchema?: z.ZodType;
  responseSchema?: z.ZodType;
  query?: Record<string, string>;
}

/** Public (health, metrics, the OpenAPI document, whoami): the principal may be absent. */
export interface PublicRoute extends RouteBase {
  permission: null;
  handler: (ctx: RouteContext) => Promise<ApiResponse>;
}

/**
 * The router refuses a caller without a token (401) or whose role lacks `permission`
 * (403) before the body is parsed or the handler runs. This table is the one place a
 * route's permission is stated; handlers keep only domain rules (a tenant admin's
 * own tenant).
 */
export interface ProtectedRoute extends RouteBase {
  permission: Permission;
  handler: (ctx: AuthedContext) => Promise<ApiResponse>;
}

export type Route = PublicRoute | ProtectedRoute;

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
