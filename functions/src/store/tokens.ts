import {
  COLLECTIONS,
  TokenDocSchema,
  parseOrThrow,
  paths,
  tokenId,
  type Role,
  type StateStore,
  type TokenDoc,
  type Transaction,
} from '@fleetforge/shared';

/** What a new token's document says; the rest (never revoked) is filled in. */
export interface NewToken {
  name: string;
  role: Role;
  tenant: string | null;
  createdBy: string;
  /** Without it the token never expires. */
  expiresAt?: string | null;
}

/** A new token's document, stored under `paths.token(hash)` (the secret itself is never stored). */
export function newTokenDoc(token: NewToken, now: Date): TokenDoc {
  return {
    ...token,
    expiresAt: token.expiresAt ?? null,
    revokedAt: null,
    revokedBy: null,
    createdAt: now.toISOString(),
  };
}

/** A token's document by its hash, validated (undefined: no such token). */
export async function readToken(
  tx: Pick<Transaction, 'get'>,
  hash: string,
  what = `doc ${paths.token(hash)}`,
): Promise<TokenDoc | undefined> {
  const data = await tx.get(paths.token(hash));
  return data ? parseOrThrow(TokenDocSchema, data, what) : undefined;
}

/** Every token's document with its hash, validated. */
export async function listTokenDocs(store: Pick<StateStore, 'list'>): Promise<Array<{ hash: string; doc: TokenDoc }>> {
  const docs = await store.list(COLLECTIONS.tokens);
  return docs.map((d) => ({ hash: d.id, doc: parseOrThrow(TokenDocSchema, d.data, `doc ${d.path}`) }));
}

/** The hash of the token whose public id is `id` (undefined: none). */
export async function findTokenHash(store: Pick<StateStore, 'list'>, id: string): Promise<string | undefined> {
  const match = (await store.list(COLLECTIONS.tokens)).filter((d) => tokenId(d.id) === id);
  return match[0]?.id;
}
