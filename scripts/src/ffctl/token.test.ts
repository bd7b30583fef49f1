import { TokenListSchema } from '@fleetforge/shared';
import type { FakeClock } from '@fleetforge/shared/testing';
import { ffctlAgainst, startInProcessApi, type InProcessApi } from '../test/api-server';
import { parseTtl } from './token';

describe('ffctl token --ttl', () => {
  it.each<[string, number]>([
    ['90m', 5400],
    ['12h', 43_200],
    ['30d', 2_592_000],
    ['60s', 60],
  ])('%s is %i seconds', (text, seconds) => {
    expect(parseTtl(text)).toBe(seconds);
  });

  it.each(['59s', '400d', '1.5h', 'soon', '-1d'])('refuses %s', (text) => {
    expect(() => parseTtl(text)).toThrow(/--ttl/);
  });
});

describe('ffctl token create, list, revoke against the API', () => {
  let server: InProcessApi;
  let api: string;
  let clock: FakeClock;

  beforeAll(async () => {
    server = await startInProcessApi();
    api = server.url;
    clock = server.clock;
    await server.token('root', 'admin'); // root-token
  });
  afterAll(() => server.close());

  const ffctl = (args: string[], token = 'root-token') => ffctlAgainst(api, args, token);

  it('creates a token with a lifetime, lists it, revokes it; the revoked token gets 401 naming why', async () => {
    const created = await ffctl(['token', 'create', 'ci', '--role', 'observer', '--ttl', '12h']);
    expect(created.code).toBe(0);
    const secret = created.out.trim();
    expect(secret).toMatch(/^ff_/);
    expect(await ffctl(['whoami'], secret)).toMatchObject({ code: 0, out: 'ci (observer)\n' });

    const listed = TokenListSchema.parse(JSON.parse((await ffctl(['token', 'list', '-o', 'json'])).out));
    const ci = listed.items.find((t) => t.name === 'ci')!;
    expect(ci).toMatchObject({ status: 'active', expiresAt: '2026-03-01T22:00:00.000Z' });

    const table = (await ffctl(['token', 'list'])).out;
    expect(table).toMatch(/ID\s.*NAME\s.*ROLE\s.*TENANT\s.*STATUS\s.*EXPIRES/);
    expect(table).toMatch(new RegExp(`${ci.id}\\s.*ci\\s.*observer\\s.*-\\s.*active`));

    const revoked = await ffctl(['token', 'revoke', ci.id]);
    expect(revoked).toMatchObject({ code: 0, out: `token ${ci.id} (ci) revoked at 2026-03-01T10:00:00.000Z\n` });
    clock.advance(2000);
    const refused = await ffctl(['whoami'], secret);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('UNAUTHENTICATED (HTTP 401): token ci was revoked at 2026-03-01T10:00:00.000Z');
    expect((await ffctl(['token', 'list'])).out).toMatch(new RegExp(`${ci.id}\\s.*revoked`));
  });

  it('an unknown id is a 404 with the id named', async () => {
    const r = await ffctl(['token', 'revoke', 'ffffffffffffffff']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('no token with id ffffffffffffffff');
  });
});
