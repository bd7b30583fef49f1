import { pollUntil, sleep } from '@fleetforge/shared';
import { ApiClient } from '../ffctl/client';
import { startDashboard, type RunningDashboard } from './server';
import type { DashboardSnapshot } from './snapshot';

const silent = { info: () => undefined, warn: () => undefined };

function snapshot(api: string, at = new Date().toISOString()): DashboardSnapshot {
  return {
    at,
    api,
    worlds: { ok: true, data: [] },
    events: { ok: true, data: [] },
    tenants: { ok: true, data: [] },
    billing: { ok: false, denied: true, error: 'no' },
  };
}

/** Reads Server-Sent Events from a fetch body: `next()` resolves with the next event. */
function sse(body: ReadableStream<Uint8Array>) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  return {
    async next(): Promise<{ event: string; data: string }> {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const lines = block.split('\n');
          const event = lines.find((l) => l.startsWith('event: '))?.slice(7);
          const data = lines.find((l) => l.startsWith('data: '))?.slice(6);
          if (event && data !== undefined) return { event, data };
          continue; // retry hints and keep-alive comments
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        buffer += decoder.decode(value, { stream: true });
      }
    },
  };
}

/** Waits for `ok` (tests assert right after, so a timeout shows as the failed expectation). */
const until = (ok: () => boolean) => pollUntil(ok, Boolean, { timeoutMs: 10_000, intervalMs: 10 });

describe('dashboard server', () => {
  let d: RunningDashboard;
  let version = 0;
  const collect = jest.fn(async () => snapshot(`v${version}`));

  beforeEach(async () => {
    version = 0;
    collect.mockClear();
    d = await startDashboard({
      client: new ApiClient({ api: 'http://api.invalid', token: undefined, source: 'test' }),
      port: 0,
      pollMs: 20,
      log: silent,
      collect,
    });
  });
  afterEach(() => d.close());

  it.each([
    ['/', 'text/html', '<svg id="cell-map"'],
    ['/app.js', 'text/javascript', "new EventSource('/api/stream')"],
    ['/style.css', 'text/css', '#cell-map'],
  ])('serves %s', async (path, type, contains) => {
    const res = await fetch(`${d.url}${path}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain(type);
    expect(await res.text()).toContain(contains);
  });

  it.each([
    ['GET', '/../package.json', 404],
    ['GET', '/nope', 404],
    ['POST', '/', 405],
  ])('%s %s is %i', async (method, path, status) => {
    const res = await fetch(`${d.url}${path}`, { method });
    expect(res.status).toBe(status);
  });

  it('reads the API only while a page is open, and streams a snapshot only when it changed', async () => {
    await sleep(100);
    expect(collect).not.toHaveBeenCalled();

    const ac = new AbortController();
    const res = await fetch(`${d.url}/api/stream`, { signal: ac.signal });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const events = sse(res.body!);
    const first = await events.next();
    expect(first.event).toBe('snapshot');
    expect(JSON.parse(first.data)).toMatchObject({ api: 'v0' });

    // Polled again and again, but the same data (only `at` differs) is not sent again.
    const seen: string[] = [];
    const reading = (async () => {
      for (;;) seen.push((await events.next()).data);
    })().catch(() => undefined);
    const polled = collect.mock.calls.length;
    await until(() => collect.mock.calls.length >= polled + 3);
    expect(collect.mock.calls.length).toBeGreaterThanOrEqual(polled + 3);
    expect(seen).toEqual([]);

    version = 1;
    await until(() => seen.length > 0);
    const afterChange = collect.mock.calls.length;
    await until(() => collect.mock.calls.length >= afterChange + 3);
    expect(seen.map((s) => (JSON.parse(s) as DashboardSnapshot).api)).toEqual(['v1']);

    ac.abort();
    await reading;
    // Once the last page is gone the loop ends: the count settles and stays.
    let calls = collect.mock.calls.length;
    for (let i = 0; i < 50; i++) {
      await sleep(100); // five poll intervals
      if (collect.mock.calls.length === calls) break;
      calls = collect.mock.calls.length;
    }
    await sleep(200);
    expect(collect.mock.calls.length).toBe(calls);
  });

  it('sends a newly opened page the last snapshot at once, and /api/snapshot reads one', async () => {
    const res = await fetch(`${d.url}/api/snapshot`);
    expect(await res.json()).toMatchObject({ api: 'v0', billing: { ok: false, denied: true } });
  });

  it('tells open pages when reading the API fails, and recovers', async () => {
    collect.mockRejectedValueOnce(new Error('API down'));
    const ac = new AbortController();
    const res = await fetch(`${d.url}/api/stream`, { signal: ac.signal });
    const events = sse(res.body!);
    expect(await events.next()).toEqual({ event: 'problem', data: JSON.stringify({ message: 'Error: API down' }) });
    expect((await events.next()).event).toBe('snapshot');
    ac.abort();
  });
});
