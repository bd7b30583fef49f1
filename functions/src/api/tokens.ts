import { randomBytes } from 'node:crypto';
import {
  DEFAULT_TOKEN_TTL_SECONDS,
  FleetError,
  TokenCreateRequestSchema,
  paths,
  parseOrThrow,
  tokenId,
  tokenStatus,
  type StateStore,
  type TokenView,
} from '@fleetforge/shared';
import { auditedTransaction } from '../store/records';
import { findTokenHash, listTokenDocs, newTokenDoc, readToken, type NewToken } from '../store/tokens';
import { hashToken } from './auth';
import { json, type ApiResponse, type AuthedContext, type RouteContext } from './http';

/** A new random token: `ff_` + 32 bytes base64url. */
export function newToken(): string {
  return `ff_${randomBytes(32).toString('base64url')}`;
}

/** Stores a token's hash (bootstrap and API share this). Without `expiresAt` it never expires. */
export async function storeToken(store: StateStore, token: string, doc: NewToken, now: Date): Promise<void> {
  await store.set(paths.token(hashToken(token)), newTokenDoc(doc, now));
}

export async function createToken(ctx: AuthedContext): Promise<ApiResponse> {
  const { principal } = ctx;
  const body = parseOrThrow(TokenCreateRequestSchema, ctx.req.body, 'request body');
  const token = newToken();
  const hash = hashToken(token);
  const { deps } = ctx;
  const now = deps.clock.now();
  const expiresAt = new Date(now.getTime() + (body.ttlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS) * 1000).toISOString();
  await auditedTransaction(
    deps.store,
    () => deps.clock.now(),
    async (tx) => {
      tx.set(
        paths.token(hash),
        newTokenDoc(
          { name: body.name, role: body.role, tenant: body.tenant ?? null, createdBy: principal.id, expiresAt },
          now,
        ),
      );
      return {
        result: undefined,
        audit: {
          action: 'token.create',
          target: `tokens/${tokenId(hash)}`,
          principal,
          correlationId: ctx.correlationId,
          details: { name: body.name, role: body.role, expiresAt },
        },
      };
    },
  );
  return json(201, { id: tokenId(hash), name: body.name, role: body.role, expiresAt, token });
}

/** Every token (never the secret), newest first. */
export async function listTokens(ctx: AuthedContext): Promise<ApiResponse> {
  const now = ctx.deps.clock.now();
  const docs = await listTokenDocs(ctx.deps.store);
  const items: TokenView[] = docs.map(({ hash, doc: t }) => {
    return {
      id: tokenId(hash),
      name: t.name,
      role: t.role,
      tenant: t.tenant,
      status: tokenStatus(t, now),
      createdAt: t.createdAt,
      createdBy: t.createdBy,
      expiresAt: t.expiresAt,
      revokedAt: t.revokedAt,
    };
  });
  items.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  return json(200, { items });
}

/** Revokes a token by its id (idempotent). API instances refuse it within AUTH_CACHE_MS. */
export async function revokeToken(ctx: AuthedContext): Promise<ApiResponse> {
  const { principal } = ctx;
  const id = ctx.params.id ?? '';
  if (!/^[0-9a-f]{16}$/.test(id)) {
    throw new FleetError('INVALID_ARGUMENT', `token id ${id} is not 16 hex digits (see ffctl token list)`, {
      issues: [{ path: 'id', message: 'expected 16 lowercase hex digits' }],
    });
  }
  const { deps } = ctx;
  const hash = await findTokenHash(deps.store, id);
  if (hash === undefined) throw new FleetError('NOT_FOUND', `no token with id ${id}`);
  const path = paths.token(hash);
  const view = await auditedTransaction(
    deps.store,
    () => deps.clock.now(),
    async (tx) => {
      const t = await readToken(tx, hash);
      if (!t) throw new FleetError('NOT_FOUND', `no token with id ${id}`);
      const revokedAt = t.revokedAt ?? deps.clock.now().toISOString();
      if (!t.revokedAt) tx.set(path, { ...t, revokedAt, revokedBy: principal.id });
      return {
        result: { id, name: t.name, revokedAt },
        audit: {
          action: 'token.revoke',
          target: `tokens/${id}`,
          principal,
          correlationId: ctx.correlationId,
          details: { name: t.name, alreadyRevoked: t.revokedAt !== null },
        },
      };
    },
  );
  return json(200, view);
}

export async function whoami(ctx: RouteContext): Promise<ApiResponse> {
  if (!ctx.principal)
    return json(401, {
      error: { code: 'UNAUTHENTICATED', message: 'missing or unknown bearer token', retryable: false },
    });
  return json(200, { name: ctx.principal.name, role: ctx.principal.role, tenant: ctx.principal.tenant });
}
