import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpCellClient } from './cell-client';

/** A stand-in cell: each path answers as the table says (status, body, or never). */
function fakeCell(
  routes: Record<string, { status: number; body?: unknown } | 'hang'>,
): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const r = routes[req.url ?? ''];
    if (r === 'hang') return; // never answers: the client's timeout must end it
    if (!r) return void res.writeHead(404).end();
    res.writeHead(r.status, { 'content-type': 'application/json' }).end(JSON.stringify(r.body ?? {}));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server }),
    ),
  );
}

describe('HttpCellClient probes and identity', () => {
  const client = new HttpCellClient();
  const servers: Server[] = [];
  afterAll(() => {
    for (const s of servers) s.closeAllConnections();
    return Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });
  const cell = async (routes: Parameters<typeof fakeCell>[0]) => {
    const c = await fakeCell(routes);
    servers.push(c.server);
    return c.url;
  };

  it.each([
    ['200', { status: 200 }, true],
    ['503 (draining, not ready)', { status: 503 }, false],
    ['no answer within the timeout', 'hang' as const, false],
  ])('ready and healthy: %s', async (_name, answer, expected) => {
    const url = await cell({ '/readyz': answer, '/healthz': answer });
    await expect(client.ready(url, 300)).resolves.toBe(expected);
    await expect(client.healthy(url, 300)).resolves.toBe(expected);
  });

  it('ready and healthy are false when nothing listens', async () => {
    await expect(client.ready('http://127.0.0.1:9', 300)).resolves.toBe(false);
    await expect(client.healthy('http://127.0.0.1:9', 300)).resolves.toBe(false);
  });

  it.each([
    [
      'a cell',
      { status: 200, body: { world: 'w', cell: 'r0c0', incarnation: 2, pid: 42, restored: 3 } },
      { world: 'w', cell: 'r0c0', incarnation: 2, pid: 42 },
    ],
    ['not a cell (another body)', { status: 200, body: { hello: 'world' } }, undefined],
    ['an error', { status: 500 }, undefined],
    ['no answer', 'hang' as const, undefined],
  ])('info from %s', async (_name, answer, expected) => {
    const url = await cell({ '/v1/info': answer });
    await expect(client.info(url, 300)).resolves.toEqual(expected);
  });
});
