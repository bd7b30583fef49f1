/**
 * The route table is the one place a route's permission is stated: the router
 * refuses a caller without a token (401) or whose role lacks the permission (403)
 * before the body is parsed and before the handler runs. Walked over every route of
 * ROUTES and every role of shared's role→permission map, with each handler replaced
 * by a spy, so a handler's own rules (a tenant admin's own tenant) play no part here.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorBodySchema, PERMISSIONS, RoleSchema, type Principal, type Role } from '@fleetforge/shared';
import { memoryDeps } from '../testing/memory-deps';
import type { ApiRequest, ProtectedRoute, PublicRoute, Route, RouteContext } from './http';
import { ApiRouter } from './router';
import { ROUTES } from './routes';
import { storeToken } from './tokens';

const ROLES = RoleSchema.options;
const SPY_STATUS = 299;

/** A router over a copy of ROUTES whose handlers record who they saw and answer 299. */
async function spiedApi() {
  const seen: Array<{ route: string; principal: Principal | undefined }> = [];
  const routes = ROUTES.map((r): Route => ({
    ...r,
    handler: async (ctx: RouteContext) => {
      seen.push({ route: `${r.method} ${r.path}`, principal: ctx.principal });
      return { status: SPY_STATUS, body: {} };
    },
  }));
  const deps = memoryDeps();
  for (const role of ROLES) {
    await storeToken(
      deps.store,
      `${role}-token`,
      { name: role, role, tenant: role === 'tenant-admin' ? 'p-name' : null, createdBy: 'test' },
      deps.clock.now(),
    );
  }
  const router = new ApiRouter(deps, routes);
  /**
   * `body: 'malformed'` sends bytes no parser takes: a 400 would mean the body was
   * read before the caller was authorized.
   */
  const call = (route: Route, token: string | undefined, body: 'valid' | 'malformed') => {
    const req: ApiRequest = {
      method: route.method,
      path: route.path.replace(/\{(\w+)\}/g, (_m, name: string) => `p-${name}`),
      query: {},
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        'content-type': 'application/json',
      },
      body: body === 'valid' ? {} : undefined,
      rawBody: body === 'malformed' ? Buffer.from('{"not": json') : undefined,
    };
    return router.handle(req);
  };
  return { call, seen };
}

const errorCode = (body: unknown) => ErrorBodySchema.parse(body).error.code;
const name = (r: Route) => `${r.method} ${r.path}`;
const isProtected = (r: Route): r is ProtectedRoute => r.permission !== null;
const PROTECTED = ROUTES.filter(isProtected);
const PUBLIC = ROUTES.filter((r): r is PublicRoute => r.permission === null);

describe('the router enforces each route’s permission before its handler runs', () => {
  it('the table has protected and public routes, and no route twice', () => {
    expect(PROTECTED.length).toBeGreaterThan(20);
    expect(PUBLIC.map(name)).toEqual([
      'GET /healthz',
      'GET /readyz',
      'GET /metrics',
      'GET /v1/openapi.json',
      'GET /v1/whoami',
    ]);
    expect(new Set(ROUTES.map(name)).size).toBe(ROUTES.length);
  });

  it.each(PROTECTED.map((r) => [name(r), r] as const))(
    '%s: 401 without a token or with an unknown one; the handler never runs',
    async (_name, route) => {
      const a = await spiedApi();
      for (const token of [undefined, 'no-such-token']) {
        const res = await a.call(route, token, 'malformed');
        expect(res.status).toBe(401);
        expect(errorCode(res.body)).toBe('UNAUTHENTICATED');
      }
      expect(a.seen).toEqual([]);
    },
  );

  it.each(PROTECTED.flatMap((r) => ROLES.map((role) => [name(r), role, r.permission, r] as const)))(
    '%s as %s: allowed exactly when %s grants the role',
    async (_name, role, permission, route) => {
      const a = await spiedApi();
      const granted = (PERMISSIONS[permission] as readonly Role[]).includes(role);
      if (granted) {
        const res = await a.call(route, `${role}-token`, 'valid');
        expect(res.status).toBe(SPY_STATUS);
        expect(a.seen).toEqual([{ route: name(route), principal: expect.objectContaining({ role }) }]);
      } else {
        const res = await a.call(route, `${role}-token`, 'malformed');
        expect(res.status).toBe(403);
        expect(errorCode(res.body)).toBe('PERMISSION_DENIED');
        expect(ErrorBodySchema.parse(res.body).error.message).toBe(`role ${role} lacks permission ${permission}`);
        expect(a.seen).toEqual([]);
      }
    },
  );

  it.each(PUBLIC.map((r) => [name(r), r] as const))('%s is public: the handler runs without a token', async (_n, r) => {
    const a = await spiedApi();
    expect((await a.call(r, undefined, 'valid')).status).toBe(SPY_STATUS);
    expect((await a.call(r, 'observer-token', 'valid')).status).toBe(SPY_STATUS);
    expect(a.seen).toEqual([
      { route: name(r), principal: undefined },
      { route: name(r), principal: expect.objectContaining({ role: 'observer' }) },
    ]);
  });

  it('the kubeconfig (a vcluster admin credential) goes to tenant admins and tenant-managing staff only', () => {
    const route = ROUTES.find((r) => r.path === '/v1/tenants/{name}/kubeconfig')!;
    expect(route.permission).toBe('tenants:kubeconfig');
    expect(ROLES.filter((role) => (PERMISSIONS['tenants:kubeconfig'] as readonly Role[]).includes(role))).toEqual([
      'operator',
      'tenant-admin',
      'admin',
    ]);
  });

  it('handlers do not check a permission again (the route table is the one source)', () => {
    const dir = __dirname;
    const handlers = readdirSync(dir).filter(
      (f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && f !== 'http.ts' && f !== 'router.ts',
    );
    const offenders = handlers.filter((f) => readFileSync(join(dir, f), 'utf8').includes('requirePermission'));
    expect(offenders).toEqual([]);
  });
});
