import { COLLECTIONS, ErrorBodySchema, TokenCreateResponseSchema, TokenListSchema } from '@fleetforge/shared';
import { FakeClock } from '@fleetforge/shared/testing';
import { memoryDeps } from '../testing/memory-deps';
import { verifyAuditChain } from '../store/records';
import { AUTH_CACHE_MS } from './auth';
import { ApiRouter } from './router';
import { storeToken } from './tokens';

async function api() {
  const clock = new FakeClock('2026-03-01T10:00:00.000Z');
  const deps = memoryDeps({ clock });
  const { store } = deps;
  await storeToken(store, 'root', { name: 'root', role: 'admin', tenant: null, createdBy: 'test' }, clock.now());
  await storeToken(store, 'looker', { name: 'looker', role: 'observer', tenant: null, createdBy: 'test' }, clock.now());
  const router = new ApiRouter(deps);
  const call = (method: string, path: string, token: string, body?: unknown) =>
    router.handle({
      method,
      path,
      query: {},
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: undefined,
      rawBody: body === undefined ? undefined : Buffer.from(JSON.stringify(body)),
    });
  const create = async (body: Record<string, unknown>) => {
    const res = await call('POST', '/v1/tokens', 'root', body);
    expect(res.status).toBe(201);
    return TokenCreateResponseSchema.parse(res.body);
  };
  const message = (res: { body: unknown }) => ErrorBodySchema.parse(res.body).error.message;
  return { store, clock, call, create, message };
}

describe('token expiry', () => {
  it('defaults to 30 days, honours ttlSeconds, and refuses an expired token with 401 saying so', async () => {
    const a = await api();
    const dflt = await a.create({ name: 'ci', role: 'observer' });
    expect(dflt.expiresAt).toBe('2026-03-31T10:00:00.000Z');
    const short = await a.create({ name: 'short', role: 'observer', ttlSeconds: 60 });
    expect(short.expiresAt).toBe('2026-03-01T10:01:00.000Z');

    expect((await a.call('GET', '/v1/worlds', short.token)).status).toBe(200);
    a.clock.advance(60_000);
    const res = await a.call('GET', '/v1/worlds', short.token);
    expect(res.status).toBe(401);
    expect(a.message(res)).toBe('token short expired at 2026-03-01T10:01:00.000Z');
    // The cache never outlives a token: the expiry applies on the dot even right after a hit.
    expect((await a.call('GET', '/v1/worlds', dflt.token)).status).toBe(200);
  });

  it('rejects a lifetime outside 60 s .. 366 days with the field named', async () => {
    const a = await api();
    for (const ttlSeconds of [0, 59, 400 * 86400, 1.5]) {
      const res = await a.call('POST', '/v1/tokens', 'root', { name: 'x', role: 'observer', ttlSeconds });
      expect(res.status).toBe(400);
      expect(ErrorBodySchema.parse(res.body).error.issues).toEqual([expect.objectContaining({ path: 'ttlSeconds' })]);
    }
  });
});

describe('token revocation', () => {
  it('refuses a revoked token within the auth cache bound, lists it as revoked, and audits it', async () => {
    const a = await api();
    const t = await a.create({ name: 'ci', role: 'observer' });
    expect(t.id).toMatch(/^[0-9a-f]{16}$/);
    expect((await a.call('GET', '/v1/worlds', t.token)).status).toBe(200);

    const revoked = await a.call('POST', `/v1/tokens/${t.id}:revoke`, 'root');
    expect(revoked).toMatchObject({
      status: 200,
      body: { id: t.id, name: 'ci', revokedAt: '2026-03-01T10:00:00.000Z' },
    });
    a.clock.advance(AUTH_CACHE_MS);
    const res = await a.call('GET', '/v1/worlds', t.token);
    expect(res.status).toBe(401);
    expect(a.message(res)).toBe('token ci was revoked at 2026-03-01T10:00:00.000Z');

    // Idempotent: revoking again keeps the first time.
    a.clock.advance(5000);
    expect((await a.call('POST', `/v1/tokens/${t.id}:revoke`, 'root')).body).toMatchObject({
      revokedAt: '2026-03-01T10:00:00.000Z',
    });

    const list = TokenListSchema.parse((await a.call('GET', '/v1/tokens', 'root')).body);
    expect(list.items.find((i) => i.id === t.id)).toMatchObject({ name: 'ci', status: 'revoked' });
    expect(list.items.find((i) => i.name === 'root')).toMatchObject({ status: 'active', expiresAt: null });
    expect(JSON.stringify(list)).not.toContain(t.token);
    const audit = (await a.store.list(COLLECTIONS.audit)).map((d) => d.data);
    expect(audit.map((e) => [e.action, e.target])).toEqual([
      ['token.create', `tokens/${t.id}`],
      ['token.revoke', `tokens/${t.id}`],
      ['token.revoke', `tokens/${t.id}`],
    ]);
    expect(verifyAuditChain(audit)).toBeUndefined();
  });

  it('404 for an unknown id, 400 for a malformed one, 403 for a role that cannot manage tokens', async () => {
    const a = await api();
    expect((await a.call('POST', '/v1/tokens/0123456789abcdef:revoke', 'root')).status).toBe(404);
    expect((await a.call('POST', '/v1/tokens/nope:revoke', 'root')).status).toBe(400);
    expect((await a.call('GET', '/v1/tokens', 'looker')).status).toBe(403);
    expect((await a.call('POST', '/v1/tokens/0123456789abcdef:revoke', 'looker')).status).toBe(403);
  });
});
