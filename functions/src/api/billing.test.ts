import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { type Role, type UsageSample } from '@fleetforge/shared';
import {
  FakeClock,
  MemoryBlobStore,
  MemoryBus,
  MemoryStateStore,
  RecordingMetricsSink,
  SeqIds,
} from '@fleetforge/shared/testing';
import { nodeDigests } from '../adapters/node-digests';
import { testDeps } from '../deps';
import { ingestUsage } from '../usecases/billing-export';
import { ApiRouter } from './router';
import { storeToken } from './tokens';

const log = pino({ level: 'silent' });

function sample(id: string, tenant: string, start: string, end: string): UsageSample {
  return {
    id,
    tenant,
    tier: 'standard',
    world: null,
    source: 'process',
    estimated: false,
    agentId: 'agent-1',
    start,
    end,
    cpuMillis: 60_000,
    memoryMiBSeconds: 1000,
    vclusterMillis: 0,
    cellMillis: 60_000,
  };
}

async function api() {
  const store = new MemoryStateStore();
  const clock = new FakeClock('2026-11-22T00:05:00.000Z');
  const blobs = new MemoryBlobStore();
  const deps = testDeps({
    store,
    bus: new MemoryBus(),
    metrics: new RecordingMetricsSink(),
    clock,
    log,
    ids: new SeqIds(),
    billing: { blobs, key: new Uint8Array(randomBytes(32)), digests: nodeDigests },
  });
  const router = new ApiRouter(deps);
  const token = (name: string, role: Role, tenant: string | null = null) =>
    storeToken(store, `${name}-token`, { name, role, tenant, createdBy: 'test' }, clock.now());
  await token('admin', 'admin');
  await token('fin', 'billing');
  await token('ops', 'operator');
  await token('obs', 'observer');
  await token('dev', 'developer');
  await token('acme-admin', 'tenant-admin', 'acme');
  await ingestUsage(
    deps,
    {
      kind: 'usage',
      agentId: 'agent-1',
      at: '2026-11-22T00:00:00.000Z',
      correlationId: 'c',
      samples: [
        sample('s1', 'acme', '2026-11-21T10:00:00.000Z', '2026-11-21T10:01:00.000Z'),
        sample('s2', 'beta', '2026-11-21T10:00:00.000Z', '2026-11-21T10:01:00.000Z'),
      ],
    },
    log,
  );
  const call = (
    method: string,
    path: string,
    who: string | undefined,
    query: Record<string, string> = {},
    body?: unknown,
  ) =>
    router.handle({
      method,
      path,
      query,
      headers: who ? { authorization: `Bearer ${who}-token` } : {},
      body,
      rawBody: undefined,
    });
  return { call, blobs, store };
}

describe('billing API access', () => {
  it('an operator closes a window; billing reads all; a tenant admin only its own; others get 403', async () => {
    const a = await api();
    expect((await a.call('POST', '/v1/billing/exports', 'fin', {}, {})).status).toBe(403);
    const run = await a.call('POST', '/v1/billing/exports', 'ops', {}, {});
    expect(run.status).toBe(201);
    expect(run.body).toMatchObject({ status: 'exported', export: { id: 'day-2026-11-21', operator: 'token:ops' } });
    expect((await a.call('POST', '/v1/billing/exports', 'ops', {}, {})).status).toBe(200);

    const all = await a.call('GET', '/v1/billing/report', 'fin');
    expect(all.status).toBe(200);
    expect((all.body as { lines: { tenant: string }[] }).lines.map((l) => l.tenant)).toEqual(['acme', 'beta']);

    const own = await a.call('GET', '/v1/billing/report', 'acme-admin');
    expect((own.body as { lines: { tenant: string }[] }).lines.map((l) => l.tenant)).toEqual(['acme']);
    expect((await a.call('GET', '/v1/billing/report', 'acme-admin', { tenant: 'beta' })).status).toBe(403);
    expect((await a.call('GET', '/v1/billing/exports', 'acme-admin')).status).toBe(403);
    expect((await a.call('POST', '/v1/billing:audit', 'acme-admin')).status).toBe(403);
    for (const who of ['obs', 'dev']) {
      expect((await a.call('GET', '/v1/billing/report', who)).status).toBe(403);
      expect((await a.call('GET', '/v1/billing/exports', who)).status).toBe(403);
    }
    expect((await a.call('GET', '/v1/billing/report', undefined)).status).toBe(401);

    const lineage = await a.call('GET', '/v1/billing/exports', 'fin');
    expect(lineage.body).toMatchObject({ items: [{ seq: 1, id: 'day-2026-11-21', operator: 'token:ops' }] });
    const audit = await a.call('POST', '/v1/billing:audit', 'fin');
    expect(audit.body).toMatchObject({ ok: true, problems: [] });
  });

  it('a tenant admin token that names no tenant sees no tenant at all (403), though its role has billing:read', async () => {
    const a = await api();
    await storeToken(
      a.store,
      'orphan-token',
      { name: 'orphan', role: 'tenant-admin', tenant: null, createdBy: 'test' },
      new Date('2026-11-22T00:05:00.000Z'),
    );
    expect((await a.call('POST', '/v1/billing/exports', 'ops', {}, {})).status).toBe(201);
    const res = await a.call('GET', '/v1/billing/report', 'orphan');
    expect(res.status).toBe(403);
    expect((res.body as { error: { message: string } }).error.message).toBe('token orphan names no tenant');
  });

  it('rejects a bad window with the field named, and 404s a window never exported', async () => {
    const a = await api();
    const bad = await a.call('GET', '/v1/billing/report', 'fin', { window: 'yesterday' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('window');
    expect((await a.call('GET', '/v1/billing/report', 'fin', { window: '2026-11-20' })).status).toBe(404);
  });
});
