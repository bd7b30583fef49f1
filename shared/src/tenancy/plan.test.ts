import fc from 'fast-check';
import {
  TenantCommandSchema,
  TenantObservationSchema,
  type ActiveAlert,
  type AlertKind,
  type PoolNode,
  type PoolStatus,
  type TenantDoc,
  type TenantObservation,
} from './tenancy';
import {
  DEFAULT_POOL_THRESHOLDS,
  applyTenantObservation,
  evaluatePoolAlerts,
  poolHeadroom,
  tenantCommand,
  type PoolHeadroom,
} from './plan';
import { tenantFixture, type TenantFixture } from '../testing/fixtures';

const T0 = new Date('2026-01-01T00:00:00.000Z').getTime();
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();
const AT = at(0);
const LATER = at(60);

const tenant = (over: TenantFixture = {}): TenantDoc => tenantFixture({ at: AT, ...over });

/** A Ready dev tenant whose upgrade to standard (generation 2) was requested. */
const upgrading = (failAt?: 'provision' | 'reapply' | 'validate') =>
  tenant({
    generation: 2,
    action: 'upgrade',
    upgrade: { to: 'standard', failAt, requestedAt: AT },
    status: { phase: 'Ready', observedGeneration: 1, readyAt: AT, readyMs: 900, namespace: 'tenant-acme' },
  });

type Progress = Extract<TenantObservation, { kind: 'progress' }>;
const progress = (over: Partial<Omit<Progress, 'kind'>> = {}): TenantObservation =>
  TenantObservationSchema.parse({ kind: 'progress', generation: 1, phase: 'Ready', ...over });

const node = (name: string, over: Partial<PoolNode> = {}): PoolNode => ({
  name,
  ready: true,
  cpuMillis: 1000,
  memoryMiB: 1000,
  requestedCpuMillis: 0,
  requestedMemoryMiB: 0,
  ...over,
});
const pool = (...nodes: PoolNode[]): PoolStatus => ({ at: AT, nodes });
/** Two ready 1000m / 1000Mi nodes with these totals requested (split evenly). */
const twoNodes = (cpu: number, mem: number): PoolStatus =>
  pool(
    node('n1', { requestedCpuMillis: cpu / 2, requestedMemoryMiB: mem / 2 }),
    node('n2', { requestedCpuMillis: cpu / 2, requestedMemoryMiB: mem / 2 }),
  );
const kinds = (as: readonly ActiveAlert[]) => as.map((a) => a.kind);
const apply = (doc: TenantDoc, obs: TenantObservation, when = AT) => applyTenantObservation(doc, obs, when, 'corr-obs');
const types = (r: { events: Array<{ type: string }> }) => r.events.map((e) => e.type);

describe('tenantCommand', () => {
  it.each<[string, TenantFixture, string | null, string | undefined]>([
    [
      'nothing to do when observed == generation',
      { generation: 1, status: { observedGeneration: 1 } },
      null,
      undefined,
    ],
    ['nothing to do when observed > generation', { generation: 1, status: { observedGeneration: 2 } }, null, undefined],
    ['apply at generation 1', {}, 'acme-g1-apply', undefined],
    [
      'upgrade carries failAt',
      {
        generation: 2,
        action: 'upgrade',
        upgrade: { to: 'standard', failAt: 'reapply', requestedAt: AT },
        status: { observedGeneration: 1 },
      },
      'acme-g2-upgrade',
      'reapply',
    ],
    [
      'upgrade without failAt',
      {
        generation: 2,
        action: 'upgrade',
        upgrade: { to: 'standard', failAt: undefined, requestedAt: AT },
        status: { observedGeneration: 1 },
      },
      'acme-g2-upgrade',
      undefined,
    ],
    [
      'delete',
      { generation: 3, action: 'delete', desired: 'absent', status: { observedGeneration: 2 } },
      'acme-g3-delete',
      undefined,
    ],
  ])('%s', (_name, over, commandId, failAt) => {
    const doc = tenant(over);
    const cmd = tenantCommand(doc);
    if (commandId === null) {
      expect(cmd).toBeNull();
      return;
    }
    expect(cmd).toEqual({
      commandId,
      tenant: 'acme',
      generation: doc.generation,
      action: doc.action,
      spec: doc.spec,
      failAt,
      correlationId: doc.correlationId,
    });
    // What goes on the wire (JSON, undefined dropped) is a valid command.
    expect(TenantCommandSchema.parse(JSON.parse(JSON.stringify(cmd)))).toMatchObject({ commandId });
  });

  it('keeps the command id for a generation and action, whatever else changed', () => {
    const a = tenantCommand(tenant({ correlationId: 'corr-1' }));
    const b = tenantCommand(tenant({ correlationId: 'corr-2', status: { phase: 'Provisioning', message: 'busy' } }));
    const next = tenantCommand(tenant({ generation: 2, status: { observedGeneration: 1 } }));
    expect(a?.commandId).toBe('acme-g1-apply');
    expect(b?.commandId).toBe(a?.commandId);
    expect(next?.commandId).toBe('acme-g2-apply');
  });
});

describe('poolHeadroom', () => {
  it.each<[string, PoolStatus, PoolHeadroom]>([
    [
      'sums the ready nodes',
      pool(
        node('n1', { cpuMillis: 4000, memoryMiB: 8192, requestedCpuMillis: 1000, requestedMemoryMiB: 2048 }),
        node('n2', { cpuMillis: 4000, memoryMiB: 8192, requestedCpuMillis: 3000, requestedMemoryMiB: 2048 }),
      ),
      {
        readyNodes: 2,
        cpuUtilization: 0.5,
        memoryUtilization: 0.25,
        cpuHeadroomMillis: 4000,
        memoryHeadroomMiB: 12288,
      },
    ],
    [
      'leaves not-ready nodes out',
      pool(
        node('n1', { requestedCpuMillis: 500, requestedMemoryMiB: 250 }),
        node('down', { ready: false, requestedCpuMillis: 1000, requestedMemoryMiB: 1000 }),
      ),
      { readyNodes: 1, cpuUtilization: 0.5, memoryUtilization: 0.25, cpuHeadroomMillis: 500, memoryHeadroomMiB: 750 },
    ],
    [
      'no nodes: no capacity counts as full',
      pool(),
      { readyNodes: 0, cpuUtilization: 1, memoryUtilization: 1, cpuHeadroomMillis: 0, memoryHeadroomMiB: 0 },
    ],
    [
      'only not-ready nodes: as no nodes',
      pool(node('down', { ready: false })),
      { readyNodes: 0, cpuUtilization: 1, memoryUtilization: 1, cpuHeadroomMillis: 0, memoryHeadroomMiB: 0 },
    ],
    [
      'over-committed: headroom is never negative',
      pool(node('n1', { requestedCpuMillis: 1500, requestedMemoryMiB: 1000 })),
      { readyNodes: 1, cpuUtilization: 1.5, memoryUtilization: 1, cpuHeadroomMillis: 0, memoryHeadroomMiB: 0 },
    ],
  ])('%s', (_name, p, want) => {
    expect(poolHeadroom(p)).toEqual(want);
  });
});

describe('evaluatePoolAlerts', () => {
  it.each<[string, PoolStatus, AlertKind[]]>([
    ['quiet pool', twoNodes(1000, 1000), []],
    ['CPU just below 80%', twoNodes(1598, 0), []],
    ['CPU at exactly 80% (the threshold is "above")', twoNodes(1600, 0), []],
    ['CPU just above 80%', twoNodes(1602, 0), ['PoolCpuHigh']],
    ['memory just below 80%', twoNodes(0, 1598), []],
    ['memory at exactly 80%', twoNodes(0, 1600), []],
    ['memory just above 80%', twoNodes(0, 1602), ['PoolMemoryHigh']],
    ['both above', twoNodes(1900, 1900), ['PoolCpuHigh', 'PoolMemoryHigh']],
    ['a single node', pool(node('n1')), ['PoolSingleNode']],
    ['a single ready node of two', pool(node('n1'), node('down', { ready: false })), ['PoolSingleNode']],
    [
      'a not-ready node does not dilute the ready one',
      pool(node('n1', { requestedCpuMillis: 900 }), node('down', { ready: false })),
      ['PoolCpuHigh', 'PoolSingleNode'],
    ],
    [
      'a not-ready node does not add load either',
      pool(node('n1'), node('n2'), node('down', { ready: false, requestedCpuMillis: 1000, requestedMemoryMiB: 1000 })),
      [],
    ],
    // No ready node: one outage pages once (CPU and memory read as full in the headroom, but do not page).
    ['zero nodes', pool(), ['PoolSingleNode']],
  ])('%s', (_name, p, want) => {
    const r = evaluatePoolAlerts(p, [], AT);
    expect(kinds(r.fired)).toEqual(want);
    expect(kinds(r.active)).toEqual(want);
    expect(r.resolved).toEqual([]);
    expect(r.headroom).toEqual(poolHeadroom(p));
    for (const a of r.active) expect(a.since).toBe(AT);
  });

  it('says what crossed, by how much and against which threshold', () => {
    const r = evaluatePoolAlerts(twoNodes(1800, 0), [], AT);
    expect(r.fired).toEqual([
      {
        kind: 'PoolCpuHigh',
        since: AT,
        value: 0.9,
        message: 'pool CPU requests at 90% of allocatable (threshold 80%)',
      },
    ]);
    const none = evaluatePoolAlerts(pool(), [], AT).fired.find((a) => a.kind === 'PoolSingleNode');
    expect(none).toMatchObject({ value: 0, message: '0 ready node(s) left in the pool: no redundancy' });
  });

  it('honours custom thresholds', () => {
    expect(kinds(evaluatePoolAlerts(twoNodes(1200, 1200), [], AT, { cpuRatio: 0.5, memoryRatio: 0.9 }).fired)).toEqual([
      'PoolCpuHigh',
    ]);
  });

  it('fires once, stays active without re-firing, resolves, and fires again on a new activation', () => {
    const s1 = evaluatePoolAlerts(twoNodes(1700, 0), [], at(0));
    expect(kinds(s1.fired)).toEqual(['PoolCpuHigh']);

    const s2 = evaluatePoolAlerts(twoNodes(1900, 0), s1.active, at(10));
    expect(s2.fired).toEqual([]);
    expect(s2.resolved).toEqual([]);
    // Still active since the first sample, with the latest reading.
    expect(s2.active).toEqual([expect.objectContaining({ kind: 'PoolCpuHigh', since: at(0), value: 0.95 })]);

    const s3 = evaluatePoolAlerts(twoNodes(1000, 0), s2.active, at(20));
    expect(s3.fired).toEqual([]);
    expect(s3.active).toEqual([]);
    expect(s3.resolved).toEqual(s2.active);

    const s4 = evaluatePoolAlerts(twoNodes(1700, 0), s3.active, at(30));
    expect(s4.fired).toEqual([expect.objectContaining({ kind: 'PoolCpuHigh', since: at(30) })]);
  });

  it('resolves one alert while another stays active', () => {
    const s1 = evaluatePoolAlerts(twoNodes(1900, 1900), [], at(0));
    const s2 = evaluatePoolAlerts(twoNodes(1900, 100), s1.active, at(10));
    expect(kinds(s2.resolved)).toEqual(['PoolMemoryHigh']);
    expect(kinds(s2.active)).toEqual(['PoolCpuHigh']);
    expect(s2.fired).toEqual([]);
  });

  /* ---------- properties ---------- */

  // Integer capacities, and requests often landing exactly on 80%, so the boundary is exercised.
  const capacity = fc.constantFrom(0, 500, 1000, 2000, 4000);
  const arbNode = fc
    .record({
      ready: fc.boolean(),
      cpuMillis: capacity,
      memoryMiB: capacity,
      cpuPct: fc.oneof(fc.constantFrom(0, 79, 80, 81, 100, 120), fc.integer({ min: 0, max: 150 })),
      memPct: fc.oneof(fc.constantFrom(0, 79, 80, 81, 100, 120), fc.integer({ min: 0, max: 150 })),
    })
    .map((n): Omit<PoolNode, 'name'> => ({
      ready: n.ready,
      cpuMillis: n.cpuMillis,
      memoryMiB: n.memoryMiB,
      requestedCpuMillis: (n.cpuMillis * n.cpuPct) / 100,
      requestedMemoryMiB: (n.memoryMiB * n.memPct) / 100,
    }));
  const arbPool = fc.array(arbNode, { maxLength: 4 });
  const arbSamples = fc.array(arbPool, { minLength: 1, maxLength: 30 });
  const toPool = (nodes: Array<Omit<PoolNode, 'name'>>, i: number): PoolStatus => ({
    at: at(i),
    nodes: nodes.map((n, j) => ({ name: `n${j}`, ...n })),
  });

  /** The conditions, from the nodes, in integer arithmetic (5·requested > 4·allocatable is "above 80%"). */
  function oracle(p: PoolStatus): Set<AlertKind> {
    const ready = p.nodes.filter((n) => n.ready);
    const sum = (f: (n: PoolNode) => number) => ready.reduce((s, n) => s + f(n), 0);
    // No ready node pages only as PoolSingleNode.
    const above = (req: number, cap: number) => ready.length > 0 && (cap === 0 || 5 * req > 4 * cap);
    const on = new Set<AlertKind>();
    if (
      above(
        sum((n) => n.requestedCpuMillis),
        sum((n) => n.cpuMillis),
      )
    )
      on.add('PoolCpuHigh');
    if (
      above(
        sum((n) => n.requestedMemoryMiB),
        sum((n) => n.memoryMiB),
      )
    )
      on.add('PoolMemoryHigh');
    if (ready.length <= 1) on.add('PoolSingleNode');
    return on;
  }

  it('property: active is exactly the set of conditions true now, each since its activation', () => {
    fc.assert(
      fc.property(arbSamples, (samples) => {
        let active: ActiveAlert[] = [];
        const since = new Map<AlertKind, string>();
        samples.forEach((nodes, i) => {
          const p = toPool(nodes, i);
          const on = oracle(p);
          const r = evaluatePoolAlerts(p, active, at(i));
          expect(new Set(kinds(r.active))).toEqual(on);
          expect(kinds(r.active)).toHaveLength(on.size); // no duplicates
          for (const k of [...since.keys()]) if (!on.has(k)) since.delete(k);
          for (const k of on) if (!since.has(k)) since.set(k, at(i));
          for (const a of r.active) expect(a.since).toBe(since.get(a.kind));
          active = r.active;
        });
      }),
    );
  });

  it('property: an alert fires at most once per activation, and resolves once when it ends', () => {
    fc.assert(
      fc.property(arbSamples, (samples) => {
        let active: ActiveAlert[] = [];
        let prev = new Set<AlertKind>();
        const fires = new Map<AlertKind, number>();
        const activations = new Map<AlertKind, number>();
        samples.forEach((nodes, i) => {
          const p = toPool(nodes, i);
          const on = oracle(p);
          const r = evaluatePoolAlerts(p, active, at(i));
          for (const a of r.fired) {
            expect(prev.has(a.kind)).toBe(false); // never re-fires while active
            fires.set(a.kind, (fires.get(a.kind) ?? 0) + 1);
          }
          for (const k of on) if (!prev.has(k)) activations.set(k, (activations.get(k) ?? 0) + 1);
          expect(new Set(kinds(r.fired))).toEqual(new Set([...on].filter((k) => !prev.has(k))));
          expect(new Set(kinds(r.resolved))).toEqual(new Set([...prev].filter((k) => !on.has(k))));
          active = r.active;
          prev = on;
        });
        expect(fires).toEqual(activations);
      }),
    );
  });
});

describe('applyTenantObservation', () => {
  it('ignores progress for an older generation', () => {
    const doc = upgrading();
    for (const phase of ['Ready', 'Failed', 'Deleted'] as const) {
      const r = apply(doc, progress({ generation: 1, phase, message: 'late' }));
      expect(r).toEqual({ doc, events: [], fired: [], remove: false });
      expect(r.doc).toBe(doc);
    }
  });

  it('Ready records when and how fast, observes the generation, and emits TenantReady once', () => {
    const obs = progress({ phase: 'Ready', readyMs: 1234, namespace: 'tenant-acme', message: 'namespace ready' });
    const first = apply(tenant(), obs, AT);
    expect(first.doc.status).toMatchObject({
      phase: 'Ready',
      message: 'namespace ready',
      readyAt: AT,
      readyMs: 1234,
      observedGeneration: 1,
      namespace: 'tenant-acme',
    });
    expect(first.events).toEqual([
      {
        type: 'TenantReady',
        severity: 'Normal',
        cells: [],
        reason: 'Provisioned',
        message: 'namespace ready',
        data: { tenant: 'acme', tier: 'dev', billingId: 'bill-acme', readyMs: 1234 },
      },
    ]);
    expect(tenantCommand(first.doc)).toBeNull();

    const again = apply(first.doc, progress({ phase: 'Ready', readyMs: 99, namespace: 'tenant-acme' }), LATER);
    expect(again.events).toEqual([]);
    expect(again.doc.status).toMatchObject({ readyAt: AT, readyMs: 1234, observedGeneration: 1 });
  });

  it('a non-terminal phase does not observe the generation (the command is still owed)', () => {
    const r = apply(tenant(), progress({ phase: 'Provisioning', message: 'provisioning dev tier' }));
    expect(r.doc.status).toMatchObject({ phase: 'Provisioning', observedGeneration: 0 });
    expect(r.events).toEqual([]);
    expect(tenantCommand(r.doc)?.commandId).toBe('acme-g1-apply');
  });

  it.each(['Failed', 'Unavailable'] as const)('%s emits one TenantFailed warning', (phase) => {
    const r = apply(tenant(), progress({ phase, message: 'apply failed: boom' }));
    expect(r.doc.status).toMatchObject({ phase, observedGeneration: 1, readyAt: null });
    expect(r.events).toEqual([
      expect.objectContaining({
        type: 'TenantFailed',
        severity: 'Warning',
        reason: phase,
        message: 'apply failed: boom',
        data: { tenant: 'acme', tier: 'dev', billingId: 'bill-acme' },
      }),
    ]);
    expect(apply(r.doc, progress({ phase })).events).toEqual([]);
  });

  it('upgrade: Started emits UpgradeStarted once across its steps', () => {
    const started = (step: string) =>
      progress({
        generation: 2,
        phase: 'Upgrading',
        message: `upgrade: ${step}`,
        upgrade: { outcome: 'Started', step, downtimeMs: null, workloads: 0 },
      });
    const s1 = apply(upgrading(), started('export'));
    expect(s1.events).toEqual([
      expect.objectContaining({
        type: 'UpgradeStarted',
        severity: 'Normal',
        message: 'upgrade to standard started: export',
        data: { tenant: 'acme', tier: 'dev', billingId: 'bill-acme' },
      }),
    ]);
    expect(s1.doc.status).toMatchObject({ phase: 'Upgrading', observedGeneration: 1 });
    const s2 = apply(s1.doc, started('provision'));
    const s3 = apply(s2.doc, started('reapply'));
    expect([...s2.events, ...s3.events]).toEqual([]);
    expect(s3.doc.spec.tier).toBe('dev');
  });

  it('upgrade: Completed switches to standard, records the downtime, emits UpgradeCompleted (not TenantReady)', () => {
    const r = apply(
      upgrading(),
      progress({
        generation: 2,
        phase: 'Ready',
        message: 'upgraded to standard',
        namespace: 'vc-acme',
        vcluster: { server: 'https://vc-acme:443', healthy: true },
        upgrade: { outcome: 'Completed', step: 'done', downtimeMs: 320, workloads: 4 },
      }),
      LATER,
    );
    expect(r.doc.spec.tier).toBe('standard');
    expect(r.doc.status).toMatchObject({
      phase: 'Ready',
      observedGeneration: 2,
      namespace: 'vc-acme',
      vcluster: { server: 'https://vc-acme:443', healthy: true, checkedAt: LATER },
      readyAt: AT, // first Ready, not the upgrade
      lastUpgrade: {
        correlationId: 'corr-obs',
        outcome: 'Completed',
        downtimeMs: 320,
        workloads: 4,
        at: LATER,
        message: 'upgraded to standard',
      },
    });
    expect(types(r)).toEqual(['UpgradeCompleted']);
    expect(r.events[0]).toMatchObject({
      severity: 'Normal',
      data: { tenant: 'acme', billingId: 'bill-acme', downtimeMs: 320, workloads: 4 },
    });
    expect(tenantCommand(r.doc)).toBeNull();
    // The command redelivered and re-run: its second report (nothing left to move) changes nothing.
    const again = apply(
      r.doc,
      progress({
        generation: 2,
        phase: 'Ready',
        message: 'upgraded to standard: 0 object(s)',
        upgrade: { outcome: 'Completed', step: 'done', downtimeMs: 0, workloads: 0 },
      }),
      LATER,
    );
    expect(again.doc).toBe(r.doc);
    expect(again.events).toEqual([]);
  });

  it('upgrade: Failed keeps the dev tier and emits an UpgradeFailed warning named by the step', () => {
    const r = apply(
      upgrading('reapply'),
      progress({
        generation: 2,
        phase: 'Ready',
        message: 'upgrade failed at reapply: injected; the dev namespace keeps serving',
        namespace: 'tenant-acme',
        upgrade: { outcome: 'Failed', step: 'reapply', downtimeMs: null, workloads: 0 },
      }),
    );
    expect(r.doc.spec.tier).toBe('dev');
    expect(r.doc.status).toMatchObject({
      phase: 'Ready',
      observedGeneration: 2,
      lastUpgrade: { outcome: 'Failed', downtimeMs: null, workloads: 0 },
    });
    expect(r.events).toEqual([
      expect.objectContaining({
        type: 'UpgradeFailed',
        severity: 'Warning',
        reason: 'reapply',
        data: { tenant: 'acme', tier: 'dev', billingId: 'bill-acme' },
      }),
    ]);
  });

  it('keeps the 20 newest placements, newest first, with the correlation id', () => {
    const old = Array.from({ length: 20 }, (_, i) => ({
      at: at(-100 + i),
      correlationId: `corr-${i}`,
      nodes: [`node-${i}`],
      namespace: 'vc-acme',
      reason: 'earlier',
    })).reverse(); // newest first, as stored
    const doc = tenant({ spec: { tier: 'standard' }, status: { placements: old } });
    const r = apply(
      doc,
      progress({ phase: 'Ready', placement: { nodes: ['node-new'], namespace: 'vc-acme', reason: 'moved' } }),
      LATER,
    );
    const placements = r.doc.status.placements;
    expect(placements).toHaveLength(20);
    expect(placements[0]).toEqual({
      at: LATER,
      correlationId: 'corr-obs',
      nodes: ['node-new'],
      namespace: 'vc-acme',
      reason: 'moved',
    });
    expect(placements.slice(1)).toEqual(old.slice(0, 19)); // the oldest one dropped
    expect(placements.map((p) => p.correlationId)).not.toContain('corr-0');
  });

  it.each<[string, Partial<TenantDoc['kubeconfig']>, TenantDoc['kubeconfig']]>([
    ['never delivered: becomes pending', {}, { pending: 'KUBECONFIG-2', deliveredAt: null, deliveredTo: null }],
    [
      'pending but not delivered: replaced by the newer one',
      { pending: 'KUBECONFIG-1' },
      { pending: 'KUBECONFIG-2', deliveredAt: null, deliveredTo: null },
    ],
    [
      'delivered before: not handed out again',
      { deliveredAt: AT, deliveredTo: 'token:acme-admin' },
      { pending: null, deliveredAt: AT, deliveredTo: 'token:acme-admin' },
    ],
  ])('kubeconfig: %s', (_name, kubeconfig, want) => {
    const doc = tenant({ spec: { tier: 'standard' }, kubeconfig });
    const r = apply(doc, progress({ phase: 'Ready', kubeconfig: 'KUBECONFIG-2' }));
    expect(r.doc.kubeconfig).toEqual(want);
  });

  it.each<[TenantDoc['desired'], boolean, string[]]>([
    ['absent', true, ['TenantDeleted']],
    ['present', false, []],
  ])('Deleted while desired %s: remove=%s', (desired, remove, events) => {
    const doc = tenant({
      generation: 2,
      desired,
      action: 'delete',
      status: { phase: 'Deleting', observedGeneration: 1 },
    });
    const r = apply(doc, progress({ generation: 2, phase: 'Deleted', message: 'namespaces removed' }));
    expect(r.remove).toBe(remove);
    expect(types(r)).toEqual(events);
    if (remove)
      expect(r.events[0]).toMatchObject({ message: 'namespaces removed', data: { tenant: 'acme', tier: 'dev' } });
  });

  it('a quota warning becomes a QuotaExceeded event with the tier and billing id, and changes nothing else', () => {
    const doc = tenant({ status: { phase: 'Ready', observedGeneration: 1 } });
    const r = apply(doc, {
      kind: 'warning',
      warning: {
        reason: 'QuotaExceeded',
        namespace: 'tenant-acme',
        object: 'Pod/big',
        message: 'exceeded quota: tenant-quota, requested: pods=1, used: pods=10, limited: pods=10',
        at: AT,
      },
    });
    expect(r.doc).toBe(doc);
    expect(r.remove).toBe(false);
    expect(r.events).toEqual([
      {
        type: 'QuotaExceeded',
        severity: 'Warning',
        cells: [],
        reason: 'QuotaExceeded',
        message: 'exceeded quota: tenant-quota, requested: pods=1, used: pods=10, limited: pods=10',
        data: { tenant: 'acme', tier: 'dev', billingId: 'bill-acme', namespace: 'tenant-acme', object: 'Pod/big' },
      },
    ]);
  });

  it('usage replaces status.usage and nothing else', () => {
    const doc = tenant({
      status: {
        phase: 'Ready',
        observedGeneration: 1,
        usage: { at: AT, pods: 9, runningPods: 9, cpuRequestMillis: 900, memoryRequestMiB: 900 },
      },
    });
    const usage = { at: LATER, pods: 2, runningPods: 1, cpuRequestMillis: 200, memoryRequestMiB: 256 };
    const r = apply(doc, TenantObservationSchema.parse({ kind: 'usage', usage }), LATER);
    expect(r.doc).toEqual({ ...doc, status: { ...doc.status, usage } });
    expect(r.events).toEqual([]);
  });

  it('a pool sample stores the pool and its alerts, and returns the alerts that fired now', () => {
    const doc = tenant({ spec: { tier: 'dedicated' }, status: { phase: 'Ready', observedGeneration: 1 } });
    const hot = twoNodes(1800, 0);
    const r = apply(doc, { kind: 'pool', pool: hot });
    expect(kinds(r.fired)).toEqual(['PoolCpuHigh']);
    expect(r.doc.status.pool).toEqual(hot);
    expect(r.doc.status.alerts).toEqual(r.fired);
    expect(r.events).toEqual([
      expect.objectContaining({
        type: 'PoolAlert',
        severity: 'Warning',
        reason: 'PoolCpuHigh',
        data: expect.objectContaining({ tenant: 'acme', tier: 'dedicated', value: 0.9, readyNodes: 2 }),
      }),
    ]);

    const same = apply(r.doc, { kind: 'pool', pool: hot }, LATER);
    expect(same.fired).toEqual([]);
    expect(same.events).toEqual([]);

    const cool = apply(same.doc, { kind: 'pool', pool: twoNodes(100, 0) }, LATER);
    expect(cool.doc.status.alerts).toEqual([]);
    expect(cool.events).toEqual([
      expect.objectContaining({ type: 'PoolAlertResolved', severity: 'Normal', reason: 'PoolCpuHigh' }),
    ]);
  });

  it('never mutates the document it is given', () => {
    const doc = upgrading();
    const before = structuredClone(doc);
    apply(
      doc,
      progress({
        generation: 2,
        phase: 'Ready',
        kubeconfig: 'K',
        placement: { nodes: ['n'], namespace: 'vc-acme', reason: 'r' },
        upgrade: { outcome: 'Completed', step: 'done', downtimeMs: 1, workloads: 1 },
      }),
    );
    apply(doc, { kind: 'pool', pool: twoNodes(1900, 1900) });
    expect(doc).toEqual(before);
  });
});

describe('DEFAULT_POOL_THRESHOLDS', () => {
  it('is 80% for CPU and memory', () => {
    expect(DEFAULT_POOL_THRESHOLDS).toEqual({ cpuRatio: 0.8, memoryRatio: 0.8 });
  });
});
