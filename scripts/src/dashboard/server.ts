import { readFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { ApiClient } from '../ffctl/client';
import type { FieldLog } from '../log';
import { collectSnapshot, type DashboardSnapshot } from './snapshot';

/** The page and its two assets; plain files, no build step (scripts/static/dashboard). */
const STATIC_DIR = join(__dirname, '..', '..', 'static', 'dashboard');
const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

export interface DashboardOptions {
  /** Reads through the API as this client's token: the page shows what that token may see. */
  client: ApiClient;
  /** 0 picks a free port. */
  port: number;
  /** Loopback by default: the page carries no login of its own. */
  host?: string;
  /** How often the API is read while at least one page is open (default 1 s). */
  pollMs?: number;
  log: FieldLog;
  /** Reads a snapshot (tests swap in their own). */
  collect?: (client: ApiClient) => Promise<DashboardSnapshot>;
}

export interface RunningDashboard {
  url: string;
  close(): Promise<void>;
}

/** What changed between two snapshots, ignoring the time they were taken. */
function fingerprint(s: DashboardSnapshot): string {
  return JSON.stringify({ ...s, at: undefined });
}

/**
 * The live dashboard: a page, `/api/snapshot` (one read, JSON) and `/api/stream`
 * (Server-Sent Events: the whole snapshot whenever it changes). The API is read
 * only while a page is open, once per `pollMs`, however many pages are open.
 */
export async function startDashboard(opts: DashboardOptions): Promise<RunningDashboard> {
  const pollMs = opts.pollMs ?? 1000;
  const collect = opts.collect ?? ((c: ApiClient) => collectSnapshot(c));
  const assets = new Map(
    Object.entries(ASSETS).map(([path, a]) => [path, { body: readFileSync(join(STATIC_DIR, a.file)), type: a.type }]),
  );
  const streams = new Set<ServerResponse>();
  let last: { snapshot: DashboardSnapshot; print: string } | undefined;
  let polling = false;
  let closed = false;
  let wake: (() => void) | undefined;

  const send = (res: ServerResponse, event: string, data: string) => res.write(`event: ${event}\ndata: ${data}\n\n`);

  const poll = async () => {
    if (polling) return;
    polling = true;
    let quietSince = Date.now();
    try {
      while (streams.size > 0 && !closed) {
        try {
          const snapshot = await collect(opts.client);
          const print = fingerprint(snapshot);
          if (print !== last?.print) {
            last = { snapshot, print };
            const data = JSON.stringify(snapshot);
            for (const s of streams) send(s, 'snapshot', data);
            quietSince = Date.now();
          } else if (Date.now() - quietSince > 15_000) {
            // Keeps proxies from closing an idle stream; EventSource ignores comments.
            for (const s of streams) s.write(': still here\n\n');
            quietSince = Date.now();
          }
        } catch (err) {
          opts.log.warn({ err: String(err) }, 'dashboard: reading the API failed');
          const data = JSON.stringify({ message: String(err) });
          for (const s of streams) send(s, 'problem', data);
        }
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, pollMs).unref();
        });
      }
    } finally {
      polling = false;
    }
  };

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const asset = assets.get(path);
    if (asset) {
      res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'no-cache' }).end(asset.body);
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      return;
    }
    if (path === '/api/snapshot') {
      collect(opts.client).then(
        (s) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(s)),
        (err: unknown) =>
          res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ message: String(err) })),
      );
      return;
    }
    if (path === '/api/stream') {
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
      });
      res.write(`retry: 2000\n\n`);
      if (last) send(res, 'snapshot', JSON.stringify(last.snapshot));
      streams.add(res);
      req.on('close', () => streams.delete(res));
      void poll();
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end(`no such page: ${path}\n`);
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => resolveListen());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${opts.host ?? '127.0.0.1'}:${port}`;
  opts.log.info({ url }, 'dashboard up');
  return {
    url,
    close: async () => {
      closed = true;
      wake?.();
      for (const s of streams) s.end();
      streams.clear();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
