import { FleetError, TokenDocSchema, paths, parseOrThrow, type Principal, type StateStore } from '@fleetforge/shared';
import { sha256Hex } from '../canonical';

const CACHE_MS = 5000;

/** Resolves bearer tokens to principals. Tokens are stored as SHA-256 hashes only. */
export class TokenAuthenticator {
  private readonly cache = new Map<string, { principal: Principal | undefined; until: number }>();

  constructor(private readonly store: StateStore) {}

  async authenticate(authorization: string | undefined): Promise<Principal | undefined> {
    if (!authorization) return undefined;
    const m = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    if (!m) throw new FleetError('UNAUTHENTICATED', 'Authorization header must be "Bearer <token>"');
    const hash = sha256Hex(m[1]!);
    const cached = this.cache.get(hash);
    if (cached && cached.until > Date.now()) return cached.principal;
    const data = await this.store.get(paths.token(hash));
    const principal = data
      ? (() => {
          const t = parseOrThrow(TokenDocSchema, data, 'token document');
          return { id: `token:${t.name}`, name: t.name, role: t.role, tenant: t.tenant };
        })()
      : undefined;
    this.cache.set(hash, { principal, until: Date.now() + CACHE_MS });
    return principal;
  }
}

export function hashToken(token: string): string {
  return sha256Hex(token);
}
