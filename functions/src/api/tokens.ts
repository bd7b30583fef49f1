import { randomBytes } from 'node:crypto';
import {
  TokenCreateRequestSchema,
  paths,
  parseOrThrow,
  type Principal,
  type Role,
  type StateStore,
} from '@fleetforge/shared';
import { auditedTransaction } from '../records';
import { hashToken } from './auth';
import { json, requirePermission, type ApiResponse, type RouteContext } from './http';

/** A new random token: `ff_` + 32 bytes base64url. */
export function newToken(): string {
  return `ff_${randomBytes(32).toString('base64url')}`;
}

/** Stores a token's hash (bootstrap and API share this). */
export async function storeToken(
  store: StateStore,
  token: string,
  doc: { name: string; role: Role; tenant: string | null; createdBy: string },
  now: Date,
): Promise<void> {
  await store.set(paths.token(hashToken(token)), { ...doc, createdAt: now.toISOString() });
}

export async function createToken(ctx: RouteContext): Promise<ApiResponse> {
  const principal: Principal = requirePermission(ctx.principal, 'tokens:manage');
  const body = parseOrThrow(TokenCreateRequestSchema, ctx.req.body, 'request body');
  const token = newToken();
  const { deps } = ctx;
  await auditedTransaction(
    deps.store,
    () => deps.clock.now(),
    async (tx) => {
      tx.set(paths.token(hashToken(token)), {
        name: body.name,
        role: body.role,
        tenant: body.tenant ?? null,
        createdBy: principal.id,
        createdAt: deps.clock.now().toISOString(),
      });
      return {
        result: undefined,
        audit: {
          action: 'token.create',
          target: `tokens/${body.name}`,
          principal,
          correlationId: ctx.correlationId,
          details: { role: body.role },
        },
      };
    },
  );
  return json(201, { name: body.name, role: body.role, token });
}

export async function whoami(ctx: RouteContext): Promise<ApiResponse> {
  if (!ctx.principal)
    return json(401, {
      error: { code: 'UNAUTHENTICATED', message: 'missing or unknown bearer token', retryable: false },
    });
  return json(200, { name: ctx.principal.name, role: ctx.principal.role, tenant: ctx.principal.tenant });
}
