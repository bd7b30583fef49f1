/**
 * Pure tenant decisions: which command the agent needs next, how an observation
 * changes the tenant document, and when a dedicated pool alerts. Time comes in
 * as a parameter; nothing here does I/O.
 */
import type { EventType } from '../world/events';
import type { PlannedEvent } from '../world/events';
import type { ActiveAlert, AlertKind, PoolStatus, TenantCommand, TenantDoc, TenantObservation } from './tenancy';

/** The command that converges the tenant at its current generation, or null when there is nothing to do. */
export function tenantCommand(doc: TenantDoc): TenantCommand | null {
  if (doc.status.observedGeneration >= doc.generation) return null;
  return {
    commandId: `${doc.spec.name}-g${doc.generation}-${doc.action}`,
    tenant: doc.spec.name,
    generation: doc.generation,
    action: doc.action,
    spec: doc.spec,
    failAt: doc.upgrade?.failAt,
    correlationId: doc.correlationId,
  };
}

export interface PoolThresholds {
  cpuRatio: number;
  memoryRatio: number;
}

export const DEFAULT_POOL_THRESHOLDS: PoolThresholds = { cpuRatio: 0.8, memoryRatio: 0.8 };

export interface PoolHeadroom {
  readyNodes: number;
  cpuUtilization: number;
  memoryUtilization: number;
  cpuHeadroomMillis: number;
  memoryHeadroomMiB: number;
}

export function poolHeadroom(pool: PoolStatus): PoolHeadroom {
  const ready = pool.nodes.filter((n) => n.ready);
  const sum = (f: (n: (typeof ready)[number]) => number) => ready.reduce((a, n) => a + f(n), 0);
  const cpu = sum((n) => n.cpuMillis);
  const mem = sum((n) => n.memoryMiB);
  const reqCpu = sum((n) => n.requestedCpuMillis);
  const reqMem = sum((n) => n.requestedMemoryMiB);
  return {
    readyNodes: ready.length,
    cpuUtilization: cpu > 0 ? reqCpu / cpu : 1,
    memoryUtilization: mem > 0 ? reqMem / mem : 1,
    cpuHeadroomMillis: Math.max(0, cpu - reqCpu),
    memoryHeadroomMiB: Math.max(0, mem - reqMem),
  };
}

/**
 * GH-033: CPU or memory above the threshold, or one node (or none) left. Returns
 * the alerts active after this sample and which fired or resolved now, so a
 * firing alert pages once, not on every sample.
 */
export function evaluatePoolAlerts(
  pool: PoolStatus,
  active: readonly ActiveAlert[],
  now: string,
  thresholds: PoolThresholds = DEFAULT_POOL_THRESHOLDS,
): { active: ActiveAlert[]; fired: ActiveAlert[]; resolved: ActiveAlert[]; headroom: PoolHeadroom } {
  const h = poolHeadroom(pool);
  const pct = (x: number) => `${Math.round(x * 100)}%`;
  const conditions: Array<{ kind: AlertKind; on: boolean; value: number; message: string }> = [
    {
      kind: 'PoolCpuHigh',
      // With no ready node only PoolSingleNode pages: one outage, one page.
      on: h.readyNodes > 0 && h.cpuUtilization > thresholds.cpuRatio,
      value: h.cpuUtilization,
      message: `pool CPU requests at ${pct(h.cpuUtilization)} of allocatable (threshold ${pct(thresholds.cpuRatio)})`,
    },
    {
      kind: 'PoolMemoryHigh',
      on: h.readyNodes > 0 && h.memoryUtilization > thresholds.memoryRatio,
      value: h.memoryUtilization,
      message: `pool memory requests at ${pct(h.memoryUtilization)} of allocatable (threshold ${pct(thresholds.memoryRatio)})`,
    },
    {
      kind: 'PoolSingleNode',
      on: h.readyNodes <= 1,
      value: h.readyNodes,
      message: `${h.readyNodes} ready node(s) left in the pool: no redundancy`,
    },
  ];
  const next: ActiveAlert[] = [];
  const fired: ActiveAlert[] = [];
  const resolved: ActiveAlert[] = [];
  for (const c of conditions) {
    const was = active.find((a) => a.kind === c.kind);
    if (c.on) {
      const a = { kind: c.kind, since: was?.since ?? now, message: c.message, value: c.value };
      next.push(a);
      if (!was) fired.push(a);
    } else if (was) {
      resolved.push(was);
    }
  }
  return { active: next, fired, resolved, headroom: h };
}

export interface ObservationResult {
  doc: TenantDoc;
  events: PlannedEvent[];
  /** Alerts that fired now (the caller pages the webhook). */
  fired: ActiveAlert[];
  /** The agent saw the tenant gone and it was meant to be: delete the document. */
  remove: boolean;
}

const PLACEMENT_HISTORY = 20;

/** A tenant event carries the tenant's tier and billing id, so alerts and audits need no join. */
export function tenantEvent(
  doc: Pick<TenantDoc, 'spec'>,
  type: EventType,
  reason: string,
  message: string,
  data: Record<string, unknown> = {},
  severity: 'Normal' | 'Warning' = 'Normal',
): PlannedEvent {
  return {
    type,
    severity,
    cells: [],
    reason,
    message,
    data: { tenant: doc.spec.name, tier: doc.spec.tier, billingId: doc.spec.billingId, ...data },
  };
}

/** Applies what the agent observed. Progress for an older generation is stale and ignored. */
export function applyTenantObservation(
  doc: TenantDoc,
  obs: TenantObservation,
  at: string,
  correlationId: string,
  thresholds: PoolThresholds = DEFAULT_POOL_THRESHOLDS,
): ObservationResult {
  const none: ObservationResult = { doc, events: [], fired: [], remove: false };
  if (obs.kind === 'warning') {
    return {
      ...none,
      events: [
        tenantEvent(
          doc,
          'QuotaExceeded',
          'QuotaExceeded',
          obs.warning.message,
          {
            namespace: obs.warning.namespace,
            object: obs.warning.object,
          },
          'Warning',
        ),
      ],
    };
  }
  if (obs.kind === 'usage') {
    const vcluster = obs.vcluster ? { ...obs.vcluster, checkedAt: obs.usage.at } : doc.status.vcluster;
    return { ...none, doc: { ...doc, status: { ...doc.status, usage: obs.usage, vcluster } } };
  }
  if (obs.kind === 'pool') {
    const r = evaluatePoolAlerts(obs.pool, doc.status.alerts, at, thresholds);
    const events = [
      ...r.fired.map((a) =>
        tenantEvent(doc, 'PoolAlert', a.kind, a.message, { value: a.value, ...r.headroom }, 'Warning'),
      ),
      ...r.resolved.map((a) => tenantEvent(doc, 'PoolAlertResolved', a.kind, `${a.kind} resolved`, { ...r.headroom })),
    ];
    return {
      doc: { ...doc, status: { ...doc.status, pool: obs.pool, alerts: r.active } },
      events,
      fired: r.fired,
      remove: false,
    };
  }
  if (obs.generation < doc.generation) return none;
  // A redelivered upgrade command re-runs on the agent; its second report must not rewrite the first.
  if (obs.upgrade && doc.status.observedGeneration >= obs.generation) return none;
  const status = { ...doc.status };
  const events: ObservationResult['events'] = [];
  let spec = doc.spec;
  let kubeconfig = doc.kubeconfig;
  status.message = obs.message;
  if (obs.namespace) status.namespace = obs.namespace;
  if (obs.vcluster) status.vcluster = { ...obs.vcluster, checkedAt: at };
  if (obs.placement) {
    status.placements = [{ at, correlationId, ...obs.placement }, ...status.placements].slice(0, PLACEMENT_HISTORY);
  }
  if (obs.kubeconfig && !kubeconfig.deliveredAt) kubeconfig = { ...kubeconfig, pending: obs.kubeconfig };
  const terminal =
    obs.phase === 'Ready' || obs.phase === 'Failed' || obs.phase === 'Unavailable' || obs.phase === 'Deleted';
  const wasPhase = status.phase;
  status.phase = obs.phase;
  if (terminal) status.observedGeneration = obs.generation;

  if (obs.upgrade) {
    const u = obs.upgrade;
    if (u.outcome === 'Started' && wasPhase !== 'Upgrading') {
      events.push(tenantEvent(doc, 'UpgradeStarted', 'Upgrade', `upgrade to standard started: ${u.step}`));
    } else if (u.outcome !== 'Started') {
      status.lastUpgrade = {
        correlationId,
        outcome: u.outcome,
        downtimeMs: u.downtimeMs,
        workloads: u.workloads,
        at,
        message: obs.message,
      };
      if (u.outcome === 'Completed') {
        spec = { ...spec, tier: 'standard' };
        events.push(
          tenantEvent({ spec }, 'UpgradeCompleted', 'Upgrade', obs.message, {
            downtimeMs: u.downtimeMs,
            workloads: u.workloads,
          }),
        );
      } else {
        events.push(tenantEvent(doc, 'UpgradeFailed', u.step || 'Upgrade', obs.message, {}, 'Warning'));
      }
    }
  }
  if (obs.phase === 'Ready' && wasPhase !== 'Ready' && !obs.upgrade) {
    status.readyAt = at;
    status.readyMs = obs.readyMs;
    events.push(tenantEvent(doc, 'TenantReady', 'Provisioned', obs.message, { readyMs: obs.readyMs }));
  } else if ((obs.phase === 'Failed' || obs.phase === 'Unavailable') && wasPhase !== obs.phase && !obs.upgrade) {
    events.push(tenantEvent(doc, 'TenantFailed', obs.phase, obs.message, {}, 'Warning'));
  }
  const remove = obs.phase === 'Deleted' && doc.desired === 'absent';
  if (remove) events.push(tenantEvent(doc, 'TenantDeleted', 'Deleted', obs.message));
  return { doc: { ...doc, spec, status, kubeconfig }, events, fired: [], remove };
}
