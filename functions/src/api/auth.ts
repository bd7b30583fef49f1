import { FleetError, tokenStatus, type Clock, type Principal, type StateStore } from '@fleetforge/shared';
import { sha256Hex } from '../canonical';
import { readToken } from '../store/tokens';

/**
 * How long an answer about a token is reused. Bounds how late a revocation takes
 * effect on an API instance that saw the token recently (each instance has its own cache).
 */
export const AUTH_CACHE_MS = 2000;
/** Entries kept; the oldest go first, so a flood of random tokens cannot grow memory. */
export const AUTH_CACHE_MAX = 1000;

type Verdict = { principal: Principal } | { refused: string } | { unknown: true };

/** Resolves bearer tokens to principals. Tokens are stored as SHA-256 hashes only. */
export class TokenAuthenticator {
  private readonly cache = new Map<string, { verdict: Verdict; until: number }>();

  constructor(
    private readonly store: StateStore,
    private readonly clock: Clock = { now: () => new Date() },
  ) {}

  /**
   * The principal, or undefined without a token or for an unknown one (public routes
   * still answer). A revoked or expired token is refused outright: 401 with the reason.
   */
  async authenticate(authorization: string | undefined): Promise<Principal | undefined> {
    if (!authorization) return undefined;
    const m = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    if (!m) throw new FleetError('UNAUTHENTICATED', 'Authorization header must be "Bearer <token>"');
    const hash = sha256Hex(m[1]!);
    const now = this.clock.now().getTime();
    const cached = this.cache.get(hash);
    let verdict: Verdict;
    if (cached && cached.until > now) verdict = cached.verdict;
    else {
      const fresh = await this.lookup(hash);
      verdict = fresh.verdict;
      this.cache.delete(hash);
      if (this.cache.size >= AUTH_CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
      // An answer never outlives the token it is about.
      this.cache.set(hash, { verdict, until: Math.min(now + AUTH_CACHE_MS, fresh.expiresAt) });
    }
    if ('refused' in verdict) throw new FleetError('UNAUTHENTICATED', verdict.refused);
    return 'principal' in verdict ? verdict.principal : undefined;
  }

  private async lookup(hash: string): Promise<{ verdict: Verdict; expiresAt: number }> {
    const t = await readToken(this.store, hash, 'token document');
    if (!t) return { verdict: { unknown: true }, expiresAt: Infinity };
    const expiresAt = t.expiresAt ? Date.parse(t.expiresAt) : Infinity;
    const status = tokenStatus(t, this.clock.now());
    if (status === 'revoked')
      return { verdict: { refused: `token ${t.name} was revoked at ${t.revokedAt}` }, expiresAt: Infinity };
    if (status === 'expired')
      return { verdict: { refused: `token ${t.name} expired at ${t.expiresAt}` }, expiresAt: Infinity };
    const principal = { id: `token:${t.name}`, name: t.name, role: t.role, tenant: t.tenant };
    return { verdict: { principal }, expiresAt };
  }
}

export function hashToken(token: string): string {
  return sha256Hex(token);
}
