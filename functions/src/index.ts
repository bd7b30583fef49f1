/**
 * Cloud Functions entry points. Each is thin: decode and validate, then hand to
 * a handler that loads state, asks a pure engine, and persists/publishes.
 */
import * as ff from '@google-cloud/functions-framework';
import {
  AgentMessageSchema,
  CellMetricsMessageSchema,
  TenantMessageSchema,
  WorldReconcileMessageSchema,
  SCHEDULER_JOBS,
  intervalCron,
  parseOrThrow,
  toFleetError,
} from '@fleetforge/shared';
import { SchedulerJobs } from './adapters/scheduler-jobs';
import {
  BillingExportRequestSchema,
  billingExport,
  billingExportDue,
  loadBillingConfig,
  updateCostGauges,
} from './handlers/billing-export';
import { apiHttpFunction } from './api/http-function';
import { ApiRouter } from './api/router';
import { ingestMetrics } from './handlers/ingest-metrics';
import { onAgentReport } from './handlers/on-agent-report';
import { reconcileWorld } from './handlers/reconcile-world';
import { sentinelSweep } from './handlers/sentinel';
import { provisionTenant } from './handlers/provision-tenant';
import { loadEnv } from './env';
import { decodePubSubEvent, handleMessage, type PubSubEventData } from './pubsub-handler';
import { productionBillingDeps, productionDeps } from './runtime';
import type { Deps } from './deps';

let router: ApiRouter | undefined;

/** Runs a message handler, then writes the metrics out whether it succeeded or not (CPU is throttled after). */
async function flushAfter(deps: Deps, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } finally {
    await deps.metrics.flush?.();
  }
}

let apiDeps: Deps | undefined;
ff.http(
  'api',
  apiHttpFunction(
    () => (router ??= new ApiRouter((apiDeps ??= productionDeps('api')))),
    // Before answering: once the response is sent, the instance gets no CPU to write with.
    async () => apiDeps?.metrics.flush?.(),
  ),
);

ff.cloudEvent<PubSubEventData>('reconcileWorld', async (event: ff.CloudEvent<PubSubEventData>) => {
  const deps = productionDeps('reconcileWorld');
  await flushAfter(deps, () =>
    handleMessage(deps, 'reconcileWorld', WorldReconcileMessageSchema, decodePubSubEvent(event.data), (msg, log) =>
      reconcileWorld(deps, msg, log),
    ),
  );
});

ff.cloudEvent<PubSubEventData>('onAgentReport', async (event: ff.CloudEvent<PubSubEventData>) => {
  const deps = productionDeps('onAgentReport');
  await flushAfter(deps, () =>
    handleMessage(deps, 'onAgentReport', AgentMessageSchema, decodePubSubEvent(event.data), (msg, log) =>
      onAgentReport(deps, msg, log),
    ),
  );
});

ff.cloudEvent<PubSubEventData>('ingestMetrics', async (event: ff.CloudEvent<PubSubEventData>) => {
  const deps = productionDeps('ingestMetrics');
  await flushAfter(deps, () =>
    handleMessage(deps, 'ingestMetrics', CellMetricsMessageSchema, decodePubSubEvent(event.data), (msg, log) =>
      ingestMetrics(deps, msg, log),
    ),
  );
});

ff.cloudEvent<PubSubEventData>('provisionTenant', async (event: ff.CloudEvent<PubSubEventData>) => {
  const deps = productionDeps('provisionTenant');
  const alertWebhook = loadEnv().FF_ALERT_WEBHOOK_URL;
  await flushAfter(deps, () =>
    handleMessage(deps, 'provisionTenant', TenantMessageSchema, decodePubSubEvent(event.data), (msg, log) =>
      provisionTenant(deps, msg, log, { alertWebhook }),
    ),
  );
});

ff.http('sentinel', async (req, res) => {
  const deps = productionDeps('sentinel');
  try {
    const correlationId = req.get('x-correlation-id') ?? deps.ids.next('sweep');
    const out = await sentinelSweep(deps, correlationId);
    await deps.metrics.flush?.();
    res.status(200).json(out);
  } catch (err) {
    const e = toFleetError(err, 'UNAVAILABLE');
    await deps.metrics.flush?.();
    res.status(e.httpStatus).json(e.toJSON());
  }
});

// Cloud Scheduler (locally the stack's runner) POSTs here: close the last window, refresh cost gauges.
ff.http('billingExport', async (req, res) => {
  const deps = productionDeps('billingExport');
  const correlationId = req.get('x-correlation-id') ?? deps.ids.next('billing');
  // Only a POST (the scheduler's) runs an export; a GET is a liveness probe.
  if (req.method !== 'POST') {
    res.status(200).json({ ok: true });
    return;
  }
  try {
    const body: unknown = req.body && typeof req.body === 'object' ? req.body : {};
    const request = parseOrThrow(BillingExportRequestSchema, body, 'request body');
    const billing = productionBillingDeps();
    const gauges = await updateCostGauges(deps, correlationId);
    // On GCP the run interval is live config: keep the Cloud Scheduler job's cron equal to it.
    const env = loadEnv();
    if (env.FF_SCHEDULER_LOCATION) {
      const config = await loadBillingConfig(deps);
      const job = SCHEDULER_JOBS.find((j) => j.target === 'billingExport')!;
      const r = await new SchedulerJobs(env.GOOGLE_CLOUD_PROJECT, env.FF_SCHEDULER_LOCATION).ensureSchedule(
        job.name,
        intervalCron(config.intervalMinutes),
      );
      if (r.changed) deps.log.info({ job: job.name, ...r }, 'billing schedule updated from config/billing');
    }
    const operator = 'system:billingExport';
    // An empty body (the scheduler's) exports every due window; a body names one.
    const results =
      request.window !== undefined || request.now
        ? [await billingExport(deps, billing, request, operator, correlationId)]
        : await billingExportDue(deps, billing, operator, correlationId);
    res.status(200).json({ results, gauges });
  } catch (err) {
    const e = toFleetError(err, 'UNAVAILABLE');
    deps.metrics.inc('fleetforge_billing_exports_total', { outcome: 'failed' });
    deps.log.error({ code: e.code, err: e.message, correlationId }, 'billing export failed');
    res.status(e.httpStatus).json(e.toJSON());
  }
});

export { ApiRouter } from './api/router';
export { ROUTES } from './api/routes';
export { openApiDocument } from './api/openapi';
export { FirestoreStateStore } from './adapters/firestore-state-store';
export { PubSubBus, ensureTopology } from './adapters/pubsub-bus';
export { LocalBlobStore } from './adapters/local-blob-store';
export { PromMetricsSink } from './adapters/prom-metrics';
export { createLogger } from './log';
export { storeToken, newToken } from './api/tokens';
export { hashToken } from './api/auth';
export { verifyAuditChain } from './records';
export { testDeps, type Deps } from './deps';
export { reconcileWorld } from './handlers/reconcile-world';
export { onAgentReport } from './handlers/on-agent-report';
export { ingestMetrics } from './handlers/ingest-metrics';
export { sentinelSweep } from './handlers/sentinel';
export { provisionTenant } from './handlers/provision-tenant';
export {
  auditBilling,
  billingExport,
  ingestUsage,
  renderExport,
  updateCostGauges,
  type BillingDeps,
} from './handlers/billing-export';
export { nodeDigests } from './adapters/node-digests';
export { loadBillingKey } from './adapters/billing-key';
export { GcsBlobStore } from './adapters/gcs-blob-store';
export { handleMessage, decodePubSubEvent } from './pubsub-handler';
