import pino from 'pino';
import {
  AgentReportBatchSchema,
  AgentReportSchema,
  TOPICS,
  TenantDocSchema,
  paths,
  type AgentCommand,
  type CellRuntimeStatus,
  type TenantDoc,
  type Tier,
} from '@fleetforge/shared';
import { FakeDriver, MemoryBus, MemoryStateStore, RecordingMetricsSink, SeqIds } from '@fleetforge/shared/testing';
import { ApiRouter, onAgentReport, storeToken, verifyAuditChain, testDeps } from '@fleetforge/functions';
import { wireFunctions } from '@fleetforge/functions/testing';
import { Agent } from './agent';
import { UsageMeter } from './metering/meter';
import { cellTargets } from './metering/targets';

const MANIFEST = `
apiVersion: fleetforge.dev/v1
kind: World
metadata: { name: world-a }
spec:
  topology:
    bounds: { x: 0, y: 0, width: 1000, height: 1000 }
    grid: { cols: 2, rows: 2 }
`;

/** The fake driver, reporting whom each cell is billed to as the real drivers do (from what it was started with). */
class BillingFakeDriver extends FakeDriver {
  override list(): CellRuntimeStatus[] {
    return super.list().map((c) => {
      const spec = this.starts.findLast((s) => s.world === c.world && s.cell === c.cell);
      return { ...c, tenant: spec?.tenant ?? null, tier: spec?.tier ?? null };
    });
  }
}

function tenantDoc(name: string, tier: Tier): TenantDoc {
  const at = new Date().toISOString();
  return TenantDocSchema.parse({
    spec: { name, tier, billingId: `bill-${name}`, admin: `ops@${name}` },
    generation: 1,
    desired: 'present',
    action: 'apply',
    correlationId: 'corr',
    createdAt: at,
    createdBy: 'token:admin',
    updatedAt: at,
    status: { phase: 'Ready' },
  });
}

/**
 * The whole control loop on in-memory fakes: API → reconcile → agent (fake
 * driver) → reports → Ready, then delete. Handlers are wired to the bus the way
 * push subscriptions wire them on GCP.
 */
function world() {
  const store = new MemoryStateStore();
  const bus = new MemoryBus();
  const metrics = new RecordingMetricsSink();
  const deps = testDeps({ store, bus, metrics, log: pino({ level: 'silent' }), ids: new SeqIds() });
  wireFunctions(deps);
  const driver = new BillingFakeDriver();
  const agent = new Agent({
    agentId: 'test',
    bus,
    driver,
    client: driver.client,
    log: deps.log,
    metrics,
    relayMs: 60_000,
  });
  void agent.start();
  const router = new ApiRouter(deps);
  const call = (method: string, path: string, token: string | undefined, body?: string) =>
    router.handle({
      method,
      path,
      query: {},
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/yaml' },
      body: undefined,
      rawBody: body === undefined ? undefined : Buffer.from(body),
    });
  return { store, bus, metrics, driver, agent, call, deps };
}

async function withTokens(w: ReturnType<typeof world>) {
  await storeToken(
    w.store,
    'admin-token',
    { name: 'admin', role: 'admin', tenant: null, createdBy: 'test' },
    new Date(),
  );
  await storeToken(
    w.store,
    'observer-token',
    { name: 'obs', role: 'observer', tenant: null, createdBy: 'test' },
    new Date(),
  );
}

describe('control loop on fakes', () => {
  it('applies a world, starts its cells, becomes Ready once, and deletes cleanly', async () => {
    const w = world();
    await withTokens(w);
    const created = await w.call('POST', '/v1/worlds', 'admin-token', MANIFEST);
    expect(created.status).toBe(201);
    await w.bus.idle();

    const got = await w.call('GET', '/v1/worlds/world-a', 'observer-token');
    expect(got.body).toMatchObject({ status: { phase: 'Ready', ready: true, cellsActive: 4 } });
    expect(w.driver.list()).toHaveLength(4);
    const starts = w.bus.payloads(TOPICS.agentCommands) as AgentCommand[];
    expect(
      starts
        .filter((c) => c.kind === 'start')
        .map((c) => c.cell)
        .sort(),
    ).toEqual(['r0c0', 'r0c1', 'r1c0', 'r1c1']);

    // Re-applying the same manifest changes nothing and emits no second WorldInitialized.
    const again = await w.call('POST', '/v1/worlds', 'admin-token', MANIFEST);
    expect(again).toMatchObject({ status: 200, body: { result: 'unchanged' } });
    await w.bus.idle();
    const events = (await w.store.list('events')).map((d) => d.data.type);
    expect(events.filter((t) => t === 'WorldInitialized')).toHaveLength(1);
    expect(events.filter((t) => t === 'CellReady')).toHaveLength(4);

    const del = await w.call('DELETE', '/v1/worlds/world-a', 'admin-token');
    expect(del.status).toBe(202);
    await w.bus.idle();
    expect(await w.store.get(paths.world('world-a'))).toBeUndefined();
    expect(await w.store.list(paths.cells('world-a'))).toEqual([]);
    expect(w.driver.list()).toEqual([]);

    // Every mutation is in the audit chain, with its principal, and the chain verifies.
    const audit = (await w.store.list('audit')).map((d) => d.data);
    expect(audit.map((a) => [a.action, a.principal])).toEqual([
      ['world.create', 'token:admin'],
      ['world.delete', 'token:admin'],
    ]);
    expect(verifyAuditChain(audit)).toBeUndefined();
    expect(verifyAuditChain([{ ...audit[0], principal: 'token:mallory' }, audit[1]!])).toBe(1);
    await w.agent.stop();
  });

  it('applies reports inside reconcile passes: one commit per pass, not one per report', async () => {
    const w = world();
    await withTokens(w);
    await w.agent.stop(); // nothing runs the cells: the test reports for them
    await w.call('POST', '/v1/worlds', 'admin-token', MANIFEST);
    await w.bus.idle();
    const commit = w.store.batch.bind(w.store);
    let commits = 0;
    w.store.batch = (ops) => {
      commits++;
      return commit(ops);
    };
    const ready = (cell: string) =>
      AgentReportSchema.parse({
        agentId: 'test',
        kind: 'ready',
        world: 'world-a',
        cell,
        incarnation: 1,
        at: new Date().toISOString(),
        endpoint: `http://fake.invalid/${cell}`,
        correlationId: `corr-${cell}`,
      });
    // `started` asks for no pass of its own: it waits for the world's next one.
    const started = (cell: string) => AgentReportSchema.parse({ ...ready(cell), kind: 'started', endpoint: null });
    expect(await onAgentReport(w.deps, started('r0c0'), w.deps.log)).toBe('ok');
    expect(commits).toBe(0);
    // Four reports arrive together: one pass applies them all (and the started), in one commit.
    const outcomes = await Promise.all(
      ['r0c0', 'r0c1', 'r1c0', 'r1c1'].map((c) => onAgentReport(w.deps, ready(c), w.deps.log)),
    );
    expect(outcomes).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(commits).toBe(1);
    expect((await w.call('GET', '/v1/worlds/world-a', 'observer-token')).body).toMatchObject({
      status: { phase: 'Ready', cellsActive: 4 },
    });
    // Each CellReady event keeps its own report's correlation id and agent.
    const readyEvents = (await w.store.list('events')).map((d) => d.data).filter((e) => e.type === 'CellReady');
    expect(readyEvents.map((e) => [e.correlationId, e.principal]).sort()).toEqual(
      ['r0c0', 'r0c1', 'r1c0', 'r1c1'].map((c) => [`corr-${c}`, 'agent:test']),
    );
    // The same four again: all stale, and no commit at all.
    const again = await Promise.all(
      ['r0c0', 'r0c1', 'r1c0', 'r1c1'].map((c) => onAgentReport(w.deps, ready(c), w.deps.log)),
    );
    expect(again).toEqual(['stale', 'stale', 'stale', 'stale']);
    expect(commits).toBe(1);
    // A batch message (what the agent sends for reports made together) is one pass too.
    const exited = AgentReportSchema.parse({ ...ready('r0c0'), kind: 'exited', exitCode: 1, reason: 'crashed' });
    const batch = AgentReportBatchSchema.parse({
      kind: 'reports',
      agentId: 'test',
      world: 'world-a',
      reports: [exited, ready('r0c1')],
      correlationId: 'corr-batch',
    });
    expect(await onAgentReport(w.deps, batch, w.deps.log)).toBe('ok');
    expect(commits).toBe(2);
    expect(await w.store.get(paths.cell('world-a', 'r0c0'))).toMatchObject({ state: 'Pending', incarnation: 2 });
  });

  it("keeps the world's warm pool from apply to delete (spec.warmPool → start commands → driver)", async () => {
    const w = world();
    await withTokens(w);
    const withPool = `${MANIFEST}  warmPool: { size: 3 }\n`;
    expect((await w.call('POST', '/v1/worlds', 'admin-token', withPool)).status).toBe(201);
    await w.bus.idle();
    const starts = (w.bus.payloads(TOPICS.agentCommands) as AgentCommand[]).filter((c) => c.kind === 'start');
    expect(starts.map((c) => c.warmPool)).toEqual([3, 3, 3, 3]);
    expect(w.driver.warmTarget).toBe(3);
    const got = await w.call('GET', '/v1/worlds/world-a', 'observer-token');
    expect(got.body).toMatchObject({ spec: { warmPool: { size: 3 } } });

    expect((await w.call('DELETE', '/v1/worlds/world-a', 'admin-token')).status).toBe(202);
    await w.bus.idle();
    expect(w.driver.warmTarget).toBe(0); // the finalizing sync says 0
    await w.agent.stop();
  });

  it('restarts a crashed cell with the next incarnation and records CellRecovered', async () => {
    const w = world();
    await withTokens(w);
    await w.call('POST', '/v1/worlds', 'admin-token', MANIFEST);
    await w.bus.idle();
    w.driver.crash('world-a', 'r0c1');
    await w.bus.idle();
    const cell = await w.store.get(paths.cell('world-a', 'r0c1'));
    expect(cell).toMatchObject({ state: 'Ready', incarnation: 2 });
    const types = (await w.store.list('events')).map((d) => d.data.type);
    expect(types).toEqual(expect.arrayContaining(['CellExited', 'CellRecovered']));
    await w.agent.stop();
  });

  it('ignores duplicated and stale reports', async () => {
    const w = world();
    await withTokens(w);
    await w.call('POST', '/v1/worlds', 'admin-token', MANIFEST);
    await w.bus.idle();
    const before = await w.store.list('events');
    const stale = { agentId: 'x', world: 'world-a', cell: 'r0c0', at: new Date().toISOString(), correlationId: 'c' };
    await w.bus.publish(TOPICS.agentReports, { ...stale, kind: 'ready', incarnation: 1, endpoint: 'http://dup' });
    await w.bus.publish(TOPICS.agentReports, { ...stale, kind: 'exited', incarnation: 7, reason: 'old' });
    await w.bus.idle();
    expect(await w.store.list('events')).toHaveLength(before.length);
    expect(await w.store.get(paths.cell('world-a', 'r0c0'))).toMatchObject({ state: 'Ready', incarnation: 1 });
    expect(w.metrics.value('fleetforge_messages_total', { function: 'onAgentReport', outcome: 'stale' })).toBe(2);
    await w.agent.stop();
  });

  it("bills a world's cells to its tenant on that tenant's tier, end to end; refuses unknown tenants and moves", async () => {
    const w = world();
    await withTokens(w);
    const withTenant = (t: string) => MANIFEST.replace('spec:\n', `spec:\n  tenant: ${t}\n`);

    const unknown = await w.call('POST', '/v1/worlds', 'admin-token', withTenant('acme'));
    expect(unknown.status).toBe(409);
    expect((unknown.body as { error: { issues: Array<{ path: string }> } }).error.issues[0]?.path).toBe('spec.tenant');
    expect(await w.store.list('worlds')).toEqual([]);

    await w.store.set(paths.tenant('acme'), tenantDoc('acme', 'dedicated'));
    await w.store.set(paths.tenant('other'), tenantDoc('other', 'dev'));
    expect((await w.call('POST', '/v1/worlds', 'admin-token', withTenant('acme'))).status).toBe(201);
    await w.bus.idle();
    const startsOf = () =>
      (w.bus.payloads(TOPICS.agentCommands) as AgentCommand[]).filter(
        (c): c is Extract<AgentCommand, { kind: 'start' }> => c.kind === 'start',
      );
    expect(startsOf().map((c) => [c.cell, c.tenant, c.tier])).toEqual(
      ['r0c0', 'r0c1', 'r1c0', 'r1c1'].map((cell) => [cell, 'acme', 'dedicated']),
    );
    expect(w.driver.starts.every((s) => s.tenant === 'acme' && s.tier === 'dedicated')).toBe(true);

    // The meter bills what the driver runs: acme's cells to acme, on acme's tier.
    let t = Date.parse('2026-11-21T10:00:00.000Z');
    const meter = new UsageMeter({
      agentId: 'test',
      bus: w.bus,
      log: w.deps.log,
      now: () => t,
      targets: cellTargets(w.driver, {
        tenant: 'platform',
        tier: 'standard',
        podCpuMillicores: 100,
        podMemoryBytes: 0,
      }),
    });
    meter.tick();
    t += 10_000;
    const samples = meter.tick();
    expect(samples).toHaveLength(4);
    expect(samples.map((x) => [x.world, x.tenant, x.tier, x.cellMillis])).toEqual(
      samples.map(() => ['world-a', 'acme', 'dedicated', 10_000]),
    );

    // A world cannot move to another tenant while it runs (its cells are billed to acme).
    const moved = await w.call('POST', '/v1/worlds', 'admin-token', withTenant('other'));
    expect(moved.status).toBe(409);
    expect(moved.body).toMatchObject({ error: { code: 'FAILED_PRECONDITION' } });

    // A cell started after the tenant's tier changed is billed on the new tier.
    await w.store.set(paths.tenant('acme'), tenantDoc('acme', 'standard'));
    w.driver.crash('world-a', 'r0c1');
    await w.bus.idle();
    expect(startsOf().at(-1)).toMatchObject({ cell: 'r0c1', incarnation: 2, tenant: 'acme', tier: 'standard' });
    await w.agent.stop();
  });

  it('bills a world naming no tenant to the platform tenant the agent is configured with', async () => {
    const w = world();
    await withTokens(w);
    await w.call('POST', '/v1/worlds', 'admin-token', MANIFEST);
    await w.bus.idle();
    const starts = (w.bus.payloads(TOPICS.agentCommands) as AgentCommand[]).filter((c) => c.kind === 'start');
    expect(starts.map((c) => [c.tenant, c.tier])).toEqual(starts.map(() => [null, null]));
    const targets = cellTargets(w.driver, { tenant: 'ops', tier: 'dev', podCpuMillicores: 1, podMemoryBytes: 0 })();
    expect(targets.map((x) => [x.tenant, x.tier])).toEqual(targets.map(() => ['ops', 'dev']));
    expect(targets).toHaveLength(4);
    await w.agent.stop();
  });

  it('dead-letters a poison message instead of retrying it', async () => {
    const w = world();
    await w.bus.publish(TOPICS.worldReconcile, { world: 'Not A Name!', reason: 'x' });
    await w.bus.idle();
    expect(w.bus.payloads(TOPICS.deadLetter)).toEqual([{ world: 'Not A Name!', reason: 'x' }]);
    expect(w.metrics.value('fleetforge_messages_total', { function: 'reconcileWorld', outcome: 'poison' })).toBe(1);
    await w.agent.stop();
  });
});

describe('API boundary', () => {
  it.each([
    ['no token', undefined, 'GET', '/v1/worlds', 401],
    ['unknown token', 'nope', 'GET', '/v1/worlds', 401],
    ['observer writing', 'observer-token', 'POST', '/v1/worlds', 403],
    ['observer minting tokens', 'observer-token', 'POST', '/v1/tokens', 403],
    ['unknown route', 'admin-token', 'GET', '/v1/nothing', 404],
    ['missing world', 'admin-token', 'GET', '/v1/worlds/ghost', 404],
    ['public health', undefined, 'GET', '/healthz', 200],
    ['public openapi', undefined, 'GET', '/v1/openapi.json', 200],
  ])('%s → %i', async (_name, token, method, path, status) => {
    const w = world();
    await withTokens(w);
    const res = await w.call(method, path, token, method === 'POST' ? MANIFEST : undefined);
    expect(res.status).toBe(status);
    await w.agent.stop();
  });

  it.each([
    ['malformed YAML', 'spec: [unclosed', '(body)'],
    ['unknown top-level field', MANIFEST + 'extra: 1\n', 'extra'],
    ['zero width', MANIFEST.replace('width: 1000', 'width: 0'), 'spec.topology.bounds.width'],
    ['grid not dividing', MANIFEST.replace('cols: 2', 'cols: 3'), 'spec.topology.grid'],
    ['too many cells', MANIFEST.replace('cols: 2, rows: 2', 'cols: 10, rows: 10'), 'spec.topology.grid'],
    ['empty body', '', undefined],
  ])('rejects %s with 400 naming the field and writes nothing', async (_name, body, path) => {
    const w = world();
    await withTokens(w);
    const res = await w.call('POST', '/v1/worlds', 'admin-token', body);
    expect(res.status).toBe(400);
    const err = (res.body as { error: { code: string; issues?: Array<{ path: string }> } }).error;
    expect(err.code).toBe('INVALID_ARGUMENT');
    if (path) expect(err.issues?.map((i) => i.path)).toContain(path);
    expect(await w.store.list('worlds')).toEqual([]);
    expect(w.bus.payloads(TOPICS.worldReconcile)).toEqual([]);
    await w.agent.stop();
  });

  it('refuses to change the topology of a live world with 409', async () => {
    const w = world();
    await withTokens(w);
    await w.call('POST', '/v1/worlds', 'admin-token', MANIFEST);
    const res = await w.call('POST', '/v1/worlds', 'admin-token', MANIFEST.replace('width: 1000', 'width: 2000'));
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ error: { issues: [{ path: 'spec.topology' }] } });
    await w.bus.idle();
    await w.agent.stop();
  });
});
