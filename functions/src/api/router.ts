import { FleetError, toFleetError, zodIssues, type Principal } from '@fleetforge/shared';
import type { Deps } from '../deps';
import { TokenAuthenticator } from './auth';
import { parseRequestBody } from './body';
import { requirePermission, type ApiRequest, type ApiResponse, type Route, type RouteContext } from './http';
import { ROUTES } from './routes';

interface Compiled {
  route: Route;
  regex: RegExp;
  names: string[];
}

function compile(route: Route): Compiled {
  const names: string[] = [];
  const pattern = route.path.replace(/\{(\w+)\}/g, (_m, name: string) => {
    names.push(name);
    return '([^/]+)';
  });
  return { route, regex: new RegExp(`^${pattern}/?$`), names };
}

/** What a path parameter may be: a Firestore document id, never a path (`a/b`) or `.`/`..`. */
const PATH_PARAM = /^[A-Za-z0-9._-]{1,253}$/;

function decodePathParam(name: string, raw: string): string {
  let value: string;
  try {
    value = decodeURIComponent(raw);
  } catch {
    throw new FleetError('INVALID_ARGUMENT', `path parameter ${name} is not valid percent-encoding`);
  }
  if (!PATH_PARAM.test(value) || value === '.' || value === '..') {
    throw new FleetError('INVALID_ARGUMENT', `path parameter ${name} must be letters, digits, '.', '_' or '-'`, {
      issues: [{ path: name, message: 'expected letters, digits, ".", "_" or "-" (at most 253)' }],
    });
  }
  return value;
}

/**
 * The body a route with a request schema sees: parsed from the raw bytes (callers
 * in-process may pass an already parsed body instead). An empty body stands for `{}`
 * when the schema takes that (optional bodies such as a manual split's reason).
 */
function readBody(route: Route, req: ApiRequest): unknown {
  const body = req.rawBody ? parseRequestBody(req.rawBody, req.headers['content-type']) : req.body;
  if (body !== undefined) return body;
  const empty = route.requestSchema?.safeParse({});
  if (!empty || empty.success) return {};
  const issues = zodIssues(empty.error);
  throw new FleetError(
    'INVALID_ARGUMENT',
    `request body is empty: ${route.method} ${route.path} takes a JSON or YAML object with ${issues.map((i) => i.path).join(', ')}`,
    { issues },
  );
}

/**
 * The route's handler, bound to a principal that holds the route's permission: 401
 * without a (valid) token, 403 for a role without the permission. Public routes get
 * whoever called, possibly nobody.
 */
function authorize(
  route: Route,
  principal: Principal | undefined,
): (ctx: Omit<RouteContext, 'principal'>) => Promise<ApiResponse> {
  if (route.permission === null) return (ctx) => route.handler({ ...ctx, principal });
  const authed = requirePermission(principal, route.permission);
  return (ctx) => route.handler({ ...ctx, principal: authed });
}

/** Routes a request: authenticate, match, run, and turn every error into the one JSON error body. */
export class ApiRouter {
  private readonly compiled: Compiled[];
  private readonly auth: TokenAuthenticator;

  constructor(
    private readonly deps: Deps,
    routes: readonly Route[] = ROUTES,
  ) {
    this.compiled = routes.map(compile);
    this.auth = new TokenAuthenticator(deps.store, deps.clock);
  }

  async handle(req: ApiRequest): Promise<ApiResponse> {
    const correlationId = req.headers['x-correlation-id'] || this.deps.ids.next('corr');
    const log = this.deps.log.child({ correlationId, method: req.method, path: req.path });
    let routeLabel = 'unmatched';
    let res: ApiResponse;
    try {
      const candidates = this.compiled
        .map((c) => ({ c, m: c.regex.exec(req.path) }))
        .filter((x): x is { c: Compiled; m: RegExpExecArray } => x.m !== null);
      if (candidates.length === 0) throw new FleetError('NOT_FOUND', `no route for ${req.path}`);
      const hit = candidates.find((x) => x.c.route.method === req.method);
      if (!hit) {
        throw new FleetError('INVALID_ARGUMENT', `${req.method} is not allowed on ${req.path}`, {
          details: { allow: candidates.map((x) => x.c.route.method) },
        });
      }
      routeLabel = hit.c.route.path;
      const params = Object.fromEntries(hit.c.names.map((n, i) => [n, decodePathParam(n, hit.m[i + 1]!)]));
      // Every route sees who is calling (whoami needs it on a public route). A route's permission
      // is checked here and only here, before the body is parsed and before the handler runs.
      const principal = await this.auth.authenticate(req.headers.authorization);
      const run = authorize(hit.c.route, principal);
      const body = hit.c.route.requestSchema ? readBody(hit.c.route, req) : req.body;
      res = await run({ deps: this.deps, req: { ...req, body }, params, correlationId, log });
    } catch (err) {
      const e = toFleetError(err);
      if (e.code === 'INTERNAL') log.error({ err: e.message, stack: e.stack }, 'request failed');
      else log.info({ code: e.code, err: e.message }, 'request rejected');
      res = { status: e.httpStatus, body: e.toJSON() };
    }
    this.deps.metrics.inc('fleetforge_api_requests_total', {
      route: routeLabel,
      status: `${Math.floor(res.status / 100)}xx`,
    });
    log.info({ status: res.status, route: routeLabel }, 'request');
    return { ...res, body: res.body, contentType: res.contentType ?? 'application/json' };
  }
}
