import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { z } from 'zod';
import { ErrorBodySchema } from '@fleetforge/shared';
import { StackFileSchema } from '../stack/config';

/** An error ffctl prints as is and exits 1 on. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** The API answered with an error status (the message is the API's own). */
export class ApiError extends CliError {
  override name = 'ApiError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export interface Endpoint {
  api: string;
  token: string | undefined;
  source: string;
}

function findStackFile(from: string): string | undefined {
  let dir = resolve(from);
  for (;;) {
    const f = join(dir, '.fleetforge', 'stack.json');
    if (existsSync(f)) return f;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/** Flags beat FLEETFORGE_API / FLEETFORGE_TOKEN, which beat the running local stack's stack.json. */
export function resolveEndpoint(
  flags: { api?: string; token?: string },
  env = process.env,
  cwd = process.cwd(),
): Endpoint {
  const api = flags.api ?? env.FLEETFORGE_API;
  let token = flags.token ?? env.FLEETFORGE_TOKEN;
  if (api) return { api: api.replace(/\/$/, ''), token, source: flags.api ? '--api' : 'FLEETFORGE_API' };
  const f = findStackFile(cwd);
  if (!f) {
    throw new CliError(
      'no FleetForge API to talk to: start the local stack with `npm start`, or set FLEETFORGE_API (and FLEETFORGE_TOKEN) to a deployed one',
    );
  }
  const parsed = StackFileSchema.safeParse(JSON.parse(readFileSync(f, 'utf8')));
  if (!parsed.success) throw new CliError(`${f} is not a valid stack file; restart the stack with \`npm start\``);
  if (!token && existsSync(parsed.data.tokenFile)) token = readFileSync(parsed.data.tokenFile, 'utf8').trim();
  return { api: parsed.data.api, token, source: f };
}

/** Describes an API error body: code, message and each bad field's path. */
function describeError(status: number, body: unknown): string {
  const parsed = ErrorBodySchema.safeParse(body);
  if (!parsed.success) return `HTTP ${status}: ${typeof body === 'string' ? body.slice(0, 500) : JSON.stringify(body)}`;
  const e = parsed.data.error;
  const issues = (e.issues ?? []).map((i) => `\n  - ${i.path}: ${i.message}`).join('');
  const hint =
    status === 401
      ? '\n  (check FLEETFORGE_TOKEN, or the token file of the local stack)'
      : status === 403
        ? "\n  (this token's role cannot do that; ask an admin for one that can)"
        : '';
  // With field issues, the list says it all; the message's own copy of them would repeat it.
  const message = issues ? e.message.replace(/:.*$/s, '') : e.message;
  return `${e.code} (HTTP ${status}): ${message}${issues}${hint}`;
}

export class ApiClient {
  constructor(readonly endpoint: Endpoint) {}

  async request<S extends z.ZodType>(method: string, path: string, schema: S, body?: unknown): Promise<z.output<S>> {
    const headers: Record<string, string> = {};
    if (this.endpoint.token) headers.authorization = `Bearer ${this.endpoint.token}`;
    let payload: string | undefined;
    if (body !== undefined) {
      if (typeof body === 'object' && body !== null && 'text' in body && 'contentType' in body) {
        const b = body as { text: string; contentType: string };
        payload = b.text;
        headers['content-type'] = b.contentType;
      } else {
        payload = JSON.stringify(body);
        headers['content-type'] = 'application/json';
      }
    }
    let res: Response;
    try {
      res = await fetch(`${this.endpoint.api}${path}`, {
        method,
        headers,
        body: payload,
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      const cause = (err as Error).cause;
      const why = cause instanceof Error ? cause.message : (err as Error).message;
      throw new CliError(
        `cannot reach the FleetForge API at ${this.endpoint.api} (${why}); is the stack running? (npm start)`,
      );
    }
    const text = await res.text();
    let json: unknown = text;
    try {
      json = JSON.parse(text);
    } catch {
      // keep text
    }
    if (!res.ok) throw new ApiError(describeError(res.status, json), res.status);
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new CliError(`unexpected response from ${path}: ${parsed.error.message}`);
    return parsed.data;
  }
}
