import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { FakeClock, MemoryBus, MemoryStateStore, RecordingMetricsSink } from '@fleetforge/shared/testing';
import { ApiRouter, storeToken, testDeps } from '@fleetforge/functions';
import { run } from '../ffctl/main';

export interface InProcessApi {
  url: string;
  store: MemoryStateStore;
  clock: FakeClock;
  /** Stores a token with this role (and tenant); returns its secret. */
  token(
    name: string,
    role: 'admin' | 'observer' | 'operator' | 'billing' | 'tenant-admin',
    tenant?: string,
  ): Promise<string>;
  close(): Promise<void>;
}

/** Runs ffctl in-process against `api` with a token, as a user would (no colour); its output and exit code. */
export async function ffctlAgainst(
  api: string,
  args: string[],
  token: string,
): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(args, {
    out: (t) => (out += t),
    err: (t) => (err += t),
    env: { FLEETFORGE_API: api, FLEETFORGE_TOKEN: token, NO_COLOR: '1' },
    cwd: '/',
  });
  return { code, out, err };
}

/**
 * The real API router over the in-memory fakes, on a loopback port: what the CLI
 * and the dashboard talk to in unit tests, without emulators.
 */
export async function startInProcessApi(opts: { clock?: FakeClock } = {}): Promise<InProcessApi> {
  const store = new MemoryStateStore();
  const clock = opts.clock ?? new FakeClock('2026-03-01T10:00:00.000Z');
  const deps = testDeps({
    store,
    bus: new MemoryBus(),
    metrics: new RecordingMetricsSink(),
    clock,
    log: pino({ level: 'silent' }),
  });
  const router = new ApiRouter(deps);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      void router
        .handle({
          method: req.method ?? 'GET',
          path: url.pathname,
          query: Object.fromEntries(url.searchParams),
          headers: req.headers as Record<string, string>,
          body: undefined,
          rawBody: Buffer.concat(chunks),
        })
        .then((out) => {
          res.writeHead(out.status, { 'content-type': out.contentType ?? 'application/json' });
          res.end(typeof out.body === 'string' ? out.body : JSON.stringify(out.body));
        });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    store,
    clock,
    token: async (name, role, tenant) => {
      const secret = `${name}-token`;
      await storeToken(store, secret, { name, role, tenant: tenant ?? null, createdBy: 'test' }, clock.now());
      return secret;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
