import { ApiClient } from '../ffctl/client';
import { startInProcessApi, type InProcessApi } from '../test/api-server';
import { DashboardSnapshotSchema, collectSnapshot } from './snapshot';

const manifest = {
  apiVersion: 'fleetforge.dev/v1',
  kind: 'World',
  metadata: { name: 'world-a' },
  spec: { topology: { bounds: { x: 0, y: 0, width: 1000, height: 1000 }, grid: { cols: 2, rows: 2 } } },
};

describe('collectSnapshot through the real API router', () => {
  let api: InProcessApi;
  beforeAll(async () => {
    api = await startInProcessApi();
    const admin = await api.token('root', 'admin');
    const res = await fetch(`${api.url}/v1/worlds`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify(manifest),
    });
    expect(res.status).toBe(201);
  });
  afterAll(() => api.close());

  const client = (token: string) => new ApiClient({ api: api.url, token, source: 'test' });

  it('reads worlds, events, tenants and the latest export as an admin', async () => {
    const s = DashboardSnapshotSchema.parse(await collectSnapshot(client('root-token'), new Date(0)));
    expect(s.at).toBe('1970-01-01T00:00:00.000Z');
    expect(s.worlds).toMatchObject({ ok: true, data: [{ world: { name: 'world-a' }, operations: [] }] });
    expect(s.events.ok && s.events.data.some((e) => e.world === 'world-a')).toBe(true);
    expect(s.tenants).toEqual({ ok: true, data: [] });
    expect(s.billing).toEqual({ ok: true, data: null });
  });

  it.each([
    ['observer', { worlds: true, events: true, tenants: true, billing: false }],
    ['billing', { worlds: false, events: false, tenants: true, billing: true }],
  ] as const)('shows a %s only what its token may read; the rest says denied', async (role, readable) => {
    const token = await api.token(`t-${role}`, role);
    const s = await collectSnapshot(client(token));
    for (const [section, ok] of Object.entries(readable)) {
      const got = s[section as keyof typeof readable];
      expect(got.ok).toBe(ok);
      if (!got.ok) expect(got).toMatchObject({ denied: true, error: expect.stringContaining('PERMISSION_DENIED') });
    }
  });

  it('says the API is unreachable instead of failing', async () => {
    const s = await collectSnapshot(new ApiClient({ api: 'http://127.0.0.1:9', token: 'x', source: 'test' }));
    expect(s.worlds).toMatchObject({ ok: false, denied: false, error: expect.stringContaining('cannot reach') });
  });
});
