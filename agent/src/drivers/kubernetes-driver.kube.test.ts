/**
 * The Kubernetes driver against a real kube-apiserver, scheduler and controller
 * manager (the `kube` Jest project starts them; the node shim plays kubelet and
 * runs cell pods as cell processes). The driver runs as the agent's own identity,
 * with agent/deploy's RBAC applied first: what it may do is what a cluster grants.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  loadAllYaml,
  type KubernetesObject,
  type V1Pod,
} from '@kubernetes/client-node';
import { sleep, type CellRunSpec, type DriverEvent } from '@fleetforge/shared';
import { HttpCellClient } from '../cell-client';
import { ANNOTATIONS, KubernetesDriver, LABELS, podName } from './kubernetes-driver';

const cells = new HttpCellClient();

jest.setTimeout(90_000);

const NS = 'fleetforge-cells';
const admin = new KubeConfig();
admin.loadFromFile(process.env.FF_TEST_KUBECONFIG ?? '');
const agentKc = new KubeConfig();
agentKc.loadFromFile(process.env.FF_TEST_AGENT_KUBECONFIG ?? '');
const core = admin.makeApiClient(CoreV1Api);

const drivers: KubernetesDriver[] = [];
/**
 * A driver and what it reports about one world. Every driver watches every cell pod in its
 * namespace (an agent adopts what runs), so each test keeps to its own world.
 */
function driver(world: string, opts: { namespace?: string; kubeConfig?: KubeConfig } = {}) {
  const d = new KubernetesDriver({ kubeConfig: agentKc, sampleMs: 200, stopGraceSeconds: 1, ...opts });
  const events: DriverEvent[] = [];
  d.onEvent((e) => {
    if (e.world === world) events.push(e);
  });
  drivers.push(d);
  return { d, events };
}

const spec = (world: string, cell: string, o: Partial<CellRunSpec> = {}): CellRunSpec => ({
  world,
  cell,
  incarnation: 1,
  boundary: { x: 0, y: 0, width: 100, height: 100 },
  capacity: { sessions: 100, cpuMillis: 1000, memoryMiB: 512 },
  epoch: 1,
  neverReady: false,
  correlationId: `corr-${world}-${cell}`,
  ...o,
});

async function until<T>(what: string, fn: () => T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
const find = <K extends DriverEvent['kind']>(events: DriverEvent[], kind: K, cell?: string) =>
  events.find((e): e is Extract<DriverEvent, { kind: K }> => e.kind === kind && (!cell || e.cell === cell));
const count = (events: DriverEvent[], kind: DriverEvent['kind'], cell: string) =>
  events.filter((e) => e.kind === kind && e.cell === cell).length;

async function podsOf(world: string): Promise<V1Pod[]> {
  const list = await core.listNamespacedPod({ namespace: NS, labelSelector: `${LABELS.world}=${world}` });
  return list.items;
}

beforeAll(async () => {
  // As `npm start -- --driver kubernetes` does: the deploy manifests, applied by an admin.
  const api = KubernetesObjectApi.makeApiClient(admin);
  for (const f of ['namespace.yaml', 'serviceaccount.yaml', 'rbac.yaml']) {
    const docs = loadAllYaml(readFileSync(join(__dirname, '..', '..', 'deploy', f), 'utf8')) as KubernetesObject[];
    for (const doc of docs) {
      await api.patch(doc, undefined, undefined, 'kube-test', true, PatchStrategy.ServerSideApply);
    }
  }
});
// Also after a failed test: nothing it started may leak into the next one.
afterEach(async () => {
  await Promise.all(drivers.splice(0).map((d) => d.stopAll('test over').then(() => d.close())));
});

describe('KubernetesDriver on a real API server, as the agent identity', () => {
  it('starts a cell pod, reports started then ready with its endpoint, samples it, and stops it', async () => {
    const { d, events } = driver('kd-life');
    const t0 = Date.now();
    await d.start(spec('kd-life', 'r0c0'));
    const ready = await until('ready', () => find(events, 'ready', 'r0c0'));
    const readyMs = Date.now() - t0;
    process.stdout.write(`pod create → ready: ${readyMs} ms\n`);
    expect(events.map((e) => e.kind).slice(0, 2)).toEqual(['started', 'ready']);
    expect(ready).toMatchObject({ world: 'kd-life', incarnation: 1, correlationId: 'corr-kd-life-r0c0' });
    expect(d.list().filter((c) => c.world === 'kd-life')).toEqual([
      {
        world: 'kd-life',
        cell: 'r0c0',
        incarnation: 1,
        phase: 'ready',
        endpoint: ready.endpoint,
        tenant: null,
        tier: null,
        generation: null,
      },
    ]);

    // The pod as the cluster sees it.
    const [pod] = await podsOf('kd-life');
    expect(pod!.metadata!.name).toBe(podName('kd-life', 'r0c0', 1));
    expect(pod!.metadata!.labels).toMatchObject({
      [LABELS.role]: 'cell',
      [LABELS.world]: 'kd-life',
      [LABELS.cell]: 'r0c0',
      [LABELS.tier]: 'shared',
      [LABELS.incarnation]: '1',
    });
    expect(JSON.parse(pod!.metadata!.annotations![ANNOTATIONS.boundary]!)).toEqual(spec('x', 'y').boundary);
    expect(pod!.metadata!.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'ConfigMap', name: 'world-kd-life', controller: true }),
    ]);
    const c = pod!.spec!.containers[0]!;
    expect(Object.fromEntries(c.env!.map((e) => [e.name, e.value]))).toEqual({
      FF_WORLD: 'kd-life',
      FF_CELL: 'r0c0',
      FF_INCARNATION: '1',
      FF_BOUNDARY: JSON.stringify(spec('x', 'y').boundary),
      FF_CAPACITY: JSON.stringify(spec('x', 'y').capacity),
      FF_EPOCH: '1',
      FF_NEVER_READY: '0',
      FF_SAMPLE_MS: '200',
      // The spec carries no generation here; a world's reconcile sets it (its createdAt).
      FF_WORLD_GENERATION: '0',
    });
    expect(pod!.spec!.restartPolicy).toBe('Never');
    expect(c.readinessProbe!.httpGet).toMatchObject({ path: '/readyz', port: 8080 });
    expect(c.resources!.requests).toBeDefined();

    // Load comes over HTTP: join two sessions and see them in a sample.
    for (const x of [10, 20]) {
      await fetch(`${ready.endpoint}/v1/sessions`, { method: 'POST', body: JSON.stringify({ x, y: 5 }) });
    }
    expect((await cells.sample(ready.endpoint)).sessions).toBe(2);

    const stopT0 = Date.now();
    await d.stop('kd-life', 'r0c0', 'test stop');
    process.stdout.write(`stop → pod gone: ${Date.now() - stopT0} ms\n`);
    expect(await podsOf('kd-life')).toEqual([]);
    expect(find(events, 'exited', 'r0c0')).toMatchObject({ requested: true, reason: 'test stop', incarnation: 1 });
    expect(d.list().filter((c) => c.world === 'kd-life')).toEqual([]);
    // The endpoint's process is gone with the pod.
    await expect(fetch(`${ready.endpoint}/healthz`)).rejects.toThrow();
  });

  it('hands sessions off between two cell pods', async () => {
    const { d, events } = driver('kd-hand');
    const left = { x: 0, y: 0, width: 50, height: 100 };
    const right = { x: 50, y: 0, width: 50, height: 100 };
    await d.start(spec('kd-hand', 'src'));
    await d.start(spec('kd-hand', 'dst', { boundary: right }));
    await d.start(spec('kd-hand', 'dst2', { boundary: left }));
    const src = await until('src ready', () => find(events, 'ready', 'src'));
    const dst = await until('dst ready', () => find(events, 'ready', 'dst'));
    const dst2 = await until('dst2 ready', () => find(events, 'ready', 'dst2'));
    for (const x of [10, 60, 70]) {
      const r = await fetch(`${src.endpoint}/v1/sessions`, { method: 'POST', body: JSON.stringify({ x, y: 1 }) });
      expect(r.status).toBe(201);
    }
    const result = await cells.handoff(src.endpoint, {
      epoch: 2,
      targets: [
        { cell: 'dst', boundary: right, endpoint: dst.endpoint },
        { cell: 'dst2', boundary: left, endpoint: dst2.endpoint },
      ],
    });
    expect(result).toEqual({ moved: 3, remaining: 0, byTarget: { dst: 2, dst2: 1 } });
    await Promise.all(['src', 'dst', 'dst2'].map((c) => d.stop('kd-hand', c, 'done')));
  });

  it('reports a crash as exited, not requested, with the exit code', async () => {
    const { d, events } = driver('kd-crash');
    await d.start(spec('kd-crash', 'r0c0'));
    const ready = await until('ready', () => find(events, 'ready', 'r0c0'));
    const { pid } = (await (await fetch(`${ready.endpoint}/v1/info`)).json()) as { pid: number };
    process.kill(pid, 'SIGKILL');
    const exited = await until('exited', () => find(events, 'exited', 'r0c0'));
    expect(exited).toMatchObject({ requested: false, exitCode: 137, incarnation: 1 });
    expect(exited.reason).toMatch(/Failed/);
    // The finished pod is cleaned up, and the next incarnation is a new pod.
    await until('failed pod removed', () => !d.list().some((c) => c.world === 'kd-crash'));
    await d.start(spec('kd-crash', 'r0c0', { incarnation: 2 }));
    await until('incarnation 2 ready', () => events.find((e) => e.kind === 'ready' && e.incarnation === 2));
    expect(count(events, 'exited', 'r0c0')).toBe(1);
    await d.stop('kd-crash', 'r0c0', 'done');
    expect(count(events, 'exited', 'r0c0')).toBe(2);
  });

  it('is idempotent: a repeated start re-announces, a second driver adopts the pod (409 is fine)', async () => {
    const a = driver('kd-idem');
    await a.d.start(spec('kd-idem', 'r0c0'));
    await a.d.start(spec('kd-idem', 'r0c0')); // before ready: nothing new
    await until('ready', () => find(a.events, 'ready', 'r0c0'));
    await a.d.start(spec('kd-idem', 'r0c0'));
    expect(count(a.events, 'started', 'r0c0')).toBe(1);
    expect(count(a.events, 'ready', 'r0c0')).toBe(2);
    // A stale start (an older incarnation) changes nothing.
    await a.d.start(spec('kd-idem', 'r0c0', { incarnation: 0 }));
    expect(await podsOf('kd-idem')).toHaveLength(1);

    // A restarted agent: lists the pod that already runs and reports it, exactly once.
    const b = driver('kd-idem');
    await b.d.start(spec('kd-idem', 'r0c0'));
    await until('adopted ready', () => find(b.events, 'ready', 'r0c0'));
    expect(await podsOf('kd-idem')).toHaveLength(1);
    expect(b.d.list().filter((c) => c.world === 'kd-idem')).toMatchObject([
      { cell: 'r0c0', incarnation: 1, phase: 'ready' },
    ]);
    expect(count(b.events, 'started', 'r0c0')).toBe(1);

    // A newer incarnation replaces the old pod.
    await b.d.start(spec('kd-idem', 'r0c0', { incarnation: 2 }));
    await until('incarnation 2 ready', () => b.events.find((e) => e.kind === 'ready' && e.incarnation === 2));
    expect(b.events.find((e) => e.kind === 'exited')).toMatchObject({ incarnation: 1, requested: true });
    expect((await podsOf('kd-idem')).map((p) => p.metadata!.labels![LABELS.incarnation])).toEqual(['2']);
    await b.d.stop('kd-idem', 'r0c0', 'done');
  });

  it('a start for the world applied again replaces the pod of the same name and incarnation, silently; a late start of the old world is ignored', async () => {
    const before = '2026-12-01T10:00:00.000Z';
    const after = '2026-12-01T10:05:00.000Z';
    const { d, events } = driver('kd-gen');
    await d.start(spec('kd-gen', 'r0c0', { generation: before }));
    await until('ready', () => find(events, 'ready', 'r0c0'));
    const [old] = await podsOf('kd-gen');
    events.length = 0;

    await d.start(spec('kd-gen', 'r0c0', { generation: after }));
    await until('the new pod ready', () => find(events, 'ready', 'r0c0'));
    const pods = await podsOf('kd-gen');
    expect(pods.map((p) => p.metadata!.uid)).not.toContain(old!.metadata!.uid);
    expect(pods.map((p) => p.spec!.containers[0]!.env!.find((e) => e.name === 'FF_WORLD_GENERATION')?.value)).toEqual([
      after,
    ]);
    expect(d.list().filter((c) => c.world === 'kd-gen')).toMatchObject([{ cell: 'r0c0', generation: after }]);
    // The old pod's end is not reported: (kd-gen, r0c0, 1) names the new cell now.
    expect(events.filter((e) => e.kind === 'exited')).toEqual([]);

    await d.start(spec('kd-gen', 'r0c0', { generation: before }));
    expect((await podsOf('kd-gen')).map((p) => p.metadata!.uid)).toEqual(pods.map((p) => p.metadata!.uid));
    await d.stop('kd-gen', 'r0c0', 'done');
  });

  it('never reports ready for a cell that never becomes ready', async () => {
    const { d, events } = driver('kd-never');
    await d.start(spec('kd-never', 'r0c0', { neverReady: true }));
    await until('started', () => find(events, 'started', 'r0c0'));
    await sleep(2000);
    expect(find(events, 'ready', 'r0c0')).toBeUndefined();
    expect(d.list().filter((c) => c.world === 'kd-never')).toMatchObject([{ phase: 'starting' }]);
    await d.stop('kd-never', 'r0c0', 'rollback');
    expect(find(events, 'exited', 'r0c0')).toMatchObject({ requested: true });
  });

  it("lets the garbage collector remove a world's pods when its owner ConfigMap goes", async () => {
    const { d, events } = driver('kd-gc');
    await d.start(spec('kd-gc', 'r0c0'));
    await d.start(spec('kd-gc', 'r0c1'));
    await until('both ready', () => count(events, 'ready', 'r0c0') + count(events, 'ready', 'r0c1') === 2);
    await d.deleteWorld('kd-gc');
    // The real kube-controller-manager's garbage collector deletes the dependents.
    await until('both exited', () => events.filter((e) => e.kind === 'exited').length === 2, 60_000);
    expect(events.filter((e) => e.kind === 'exited')).toEqual([
      expect.objectContaining({ requested: false }),
      expect.objectContaining({ requested: false }),
    ]);
    expect(await podsOf('kd-gc')).toEqual([]);
    expect(d.list().filter((c) => c.world === 'kd-gc')).toEqual([]);
  });

  it('stops a cell asked to stop while its pod is being created', async () => {
    const { d, events } = driver('kd-race');
    const starting = d.start(spec('kd-race', 'r0c0'));
    await until('tracked', () => d.list().some((c) => c.world === 'kd-race'));
    await d.stop('kd-race', 'r0c0', 'stopped while starting');
    await starting;
    expect(await podsOf('kd-race')).toEqual([]);
    expect(events.filter((e) => e.kind === 'exited')).toEqual([
      expect.objectContaining({ requested: true, reason: 'stopped while starting' }),
    ]);
    // Nothing comes back afterwards (no adoption of the deleted pod, no ready).
    await sleep(1500);
    expect(d.list().filter((c) => c.world === 'kd-race')).toEqual([]);
    expect(find(events, 'ready', 'r0c0')).toBeUndefined();
  });

  it('closes leaving its pods running (an agent rollout keeps every session); the next driver adopts them', async () => {
    const { d, events } = driver('kd-close');
    await d.start(spec('kd-close', 'a', { tenant: 'acme', tier: 'dedicated' }));
    await d.start(spec('kd-close', 'b'));
    await until('both ready', () => events.filter((e) => e.kind === 'ready').length === 2);
    const a = find(events, 'ready', 'a')!;
    await fetch(`${a.endpoint}/v1/sessions`, { method: 'POST', body: JSON.stringify({ id: 'keep-me', x: 5, y: 5 }) });
    await d.close();
    await sleep(1000);
    expect(await podsOf('kd-close')).toHaveLength(2);
    expect(events.filter((e) => e.kind === 'exited')).toEqual([]);

    const next = driver('kd-close');
    await next.d.adopt();
    await until('both adopted ready', () => next.events.filter((e) => e.kind === 'ready').length === 2);
    expect(
      next.d
        .list()
        .filter((c) => c.world === 'kd-close')
        .map((c) => [c.cell, c.incarnation, c.phase, c.tenant, c.tier]),
    ).toEqual(
      // Whom each cell is billed to comes back from the pod (the meter keeps billing it correctly).
      expect.arrayContaining([
        ['a', 1, 'ready', 'acme', 'dedicated'],
        ['b', 1, 'ready', null, null],
      ]),
    );
    // Same process, same sessions: nothing was restarted.
    expect(await (await fetch(`${a.endpoint}/v1/sessions/keep-me`)).json()).toMatchObject({ id: 'keep-me' });
    await next.d.stopAll('done');
    expect(await podsOf('kd-close')).toEqual([]);
  });

  it('kills a cell (failed probes): reports exited, not requested, only once the pod is gone', async () => {
    const { d, events } = driver('kd-kill');
    await d.start(spec('kd-kill', 'r0c0'));
    await until('ready', () => find(events, 'ready', 'r0c0'));
    // Another incarnation is not this one: nothing happens.
    await d.kill('kd-kill', 'r0c0', 2, 'wrong incarnation');
    expect(await podsOf('kd-kill')).toHaveLength(1);
    await d.kill('kd-kill', 'r0c0', 1, 'ProbeFailed: test');
    expect(await podsOf('kd-kill')).toEqual([]);
    expect(find(events, 'exited', 'r0c0')).toMatchObject({ requested: false, reason: 'ProbeFailed: test' });
    expect(count(events, 'exited', 'r0c0')).toBe(1);
  });
});

describe('KubernetesDriver namespace', () => {
  it('creates its namespace when missing (an admin identity; the agent is granted its own)', async () => {
    const ns = `kd-ns-${Date.now().toString(36)}`;
    const { d, events } = driver('kd-ns', { namespace: ns, kubeConfig: admin });
    await d.start(spec('kd-ns', 'r0c0'));
    await until('ready', () => find(events, 'ready', 'r0c0'));
    expect((await core.readNamespace({ name: ns })).metadata!.name).toBe(ns);
    await d.stop('kd-ns', 'r0c0', 'done');
    await core.deleteNamespace({ name: ns });
  });

  it('is refused what RBAC does not grant the agent (pods outside its cells namespace)', async () => {
    const ns = `kd-deny-${Date.now().toString(36)}`;
    await core.createNamespace({ body: { metadata: { name: ns } } });
    const { d } = driver('kd-deny', { namespace: ns });
    await expect(d.start(spec('kd-deny', 'r0c0'))).rejects.toMatchObject({ code: 403 });
    await core.deleteNamespace({ name: ns });
  });
});
