import {
  TOPICS,
  applyTenantObservation,
  paths,
  poolHeadroom,
  tenantCommand,
  type ActiveAlert,
  type TenantDoc,
  type TenantMessage,
} from '@fleetforge/shared';
import type { Deps } from '../deps';
import type { Outcome } from '../pubsub-handler';
import { writeEvents } from '../store/records';
import { parseTenant } from '../store/tenants';

export interface ProvisionOptions {
  /** The pager: dedicated-pool alerts are POSTed here (GH-033). */
  alertWebhook?: string | undefined;
}

/**
 * Converges one tenant. A `reconcile` sends the agent the command for the
 * tenant's current generation (the agent is level-based, so a repeat is
 * harmless); an `observed` message applies what the agent saw, with its events.
 */
export async function provisionTenant(
  deps: Deps,
  msg: TenantMessage,
  log: Deps['log'],
  opts: ProvisionOptions = {},
): Promise<Outcome> {
  const path = paths.tenant(msg.tenant);
  if (msg.kind === 'reconcile') {
    const data = await deps.store.get(path);
    if (!data) return 'stale';
    const doc = parseTenant(data, path);
    const cmd = tenantCommand(doc);
    if (!cmd) return 'stale';
    await deps.bus.publish(TOPICS.tenantCommands, cmd, { tenant: cmd.tenant });
    log.info({ tenant: cmd.tenant, action: cmd.action, generation: cmd.generation }, 'tenant command sent');
    return 'ok';
  }

  const now = deps.clock.now();
  const result = await deps.store.runTransaction(async (tx) => {
    const data = await tx.get(path);
    if (!data) return undefined;
    const doc = parseTenant(data, path);
    const r = applyTenantObservation(doc, msg.observation, now.toISOString(), msg.correlationId);
    if (r.doc === doc && r.events.length === 0) return undefined;
    if (r.remove) tx.delete(path);
    else tx.set(path, { ...r.doc, updatedAt: now.toISOString() });
    writeEvents(tx, r.events, {
      world: null,
      tenant: msg.tenant,
      correlationId: msg.correlationId,
      principal: `agent:${msg.agentId}`,
      time: now,
      ids: deps.ids,
    });
    return r;
  });
  if (!result) return 'stale';
  const obs = msg.observation;
  if (obs.kind === 'pool') {
    const h = poolHeadroom(obs.pool);
    deps.metrics.set('fleetforge_tenant_pool_nodes', h.readyNodes, { tenant: msg.tenant });
    deps.metrics.set('fleetforge_tenant_pool_utilization_ratio', h.cpuUtilization, {
      tenant: msg.tenant,
      resource: 'cpu',
    });
    deps.metrics.set('fleetforge_tenant_pool_utilization_ratio', h.memoryUtilization, {
      tenant: msg.tenant,
      resource: 'memory',
    });
    deps.metrics.set('fleetforge_tenant_pool_headroom', h.cpuHeadroomMillis, { tenant: msg.tenant, resource: 'cpu' });
    deps.metrics.set('fleetforge_tenant_pool_headroom', h.memoryHeadroomMiB, {
      tenant: msg.tenant,
      resource: 'memory',
    });
  }
  if (obs.kind === 'progress' && obs.phase === 'Ready' && obs.readyMs !== null && !obs.upgrade) {
    deps.metrics.observe('fleetforge_tenant_ready_seconds', obs.readyMs / 1000, { tier: result.doc.spec.tier });
  }
  if (obs.kind === 'progress' && obs.upgrade?.outcome === 'Completed' && obs.upgrade.downtimeMs !== null) {
    deps.metrics.observe('fleetforge_tenant_upgrade_downtime_seconds', obs.upgrade.downtimeMs / 1000);
  }
  for (const alert of result.fired) await page(opts.alertWebhook, result.doc, alert, msg.correlationId, log);
  log.info(
    { tenant: msg.tenant, kind: obs.kind, events: result.events.map((e) => e.type) },
    'tenant observation applied',
  );
  return 'ok';
}

/** POSTs a firing alert to the pager webhook. A pager outage is logged, not retried: the event is the record. */
async function page(
  url: string | undefined,
  doc: TenantDoc,
  alert: ActiveAlert,
  correlationId: string,
  log: Deps['log'],
): Promise<void> {
  if (!url) {
    log.warn({ tenant: doc.spec.name, alert: alert.kind }, 'pool alert fired; no FF_ALERT_WEBHOOK_URL to page');
    return;
  }
  const body = {
    alert: alert.kind,
    severity: 'page',
    tenant: doc.spec.name,
    tier: doc.spec.tier,
    billingId: doc.spec.billingId,
    message: alert.message,
    value: alert.value,
    since: alert.since,
    correlationId,
    runbook: 'docs/runbooks/dedicated-pool-alerts.md',
  };
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-correlation-id': correlationId },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    log.info({ tenant: doc.spec.name, alert: alert.kind, status: res.status }, 'pool alert paged');
  } catch (err) {
    log.error({ tenant: doc.spec.name, alert: alert.kind, err: String(err) }, 'pool alert page failed');
  }
}
