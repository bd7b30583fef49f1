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
  toFleetError,
} from '@fleetforge/shared';
import { apiHttpFunction } from './api/http-function';
import { ApiRouter } from './api/router';
import { ingestMetrics } from './handlers/ingest-metrics';
import { onAgentReport } from './handlers/on-agent-report';
import { reconcileWorld } from './handlers/reconcile-world';
import { sentinelSweep } from './handlers/sentinel';
import { provisionTenant } from './handlers/provision-tenant';
import { loadEnv } from './env';
import { decodePubSubEvent, handleMessage, type PubSubEventData } from './pubsub-handler';
import { productionDeps } from './runtime';

let router: ApiRouter | undefined;

ff.http(
  'api',
  apiHttpFunction(() => (router ??= new ApiRouter(productionDeps('api')))),
);

ff.cloudEvent<PubSubEventData>('reconcileWorld', async (event: ff.CloudEvent<PubSubEventData>) => {
  const deps = productionDeps('reconcileWorld');
  await handleMessage(deps, 'reconcileWorld', WorldReconcileMessageSchema, decodePubSubEvent(event.data), (msg, log) =>
    reconcileWorld(deps, msg, log),
  );
});

ff.cloudEvent<PubSubEventData>('onAgentReport', async (event: ff.CloudEvent<PubSubEventData>) => {
  const deps = productionDeps('onAgentReport');
  await handleMessage(deps, 'onAgentReport', AgentMessageSchema, decodePubSubEvent(event.data), (msg, log) =>
    onAgentReport(deps, msg, log),
  );
});

ff.cloudEvent<PubSubEventData>('ingestMetrics', async (event: ff.CloudEvent<PubSubEventData>) => {
  const deps = productionDeps('ingestMetrics');
  await handleMessage(deps, 'ingestMetrics', CellMetricsMessageSchema, decodePubSubEvent(event.data), (msg, log) =>
    ingestMetrics(deps, msg, log),
  );
});

ff.cloudEvent<PubSubEventData>('provisionTenant', async (event: ff.CloudEvent<PubSubEventData>) => {
  const deps = productionDeps('provisionTenant');
  const alertWebhook = loadEnv().FF_ALERT_WEBHOOK_URL;
  await handleMessage(deps, 'provisionTenant', TenantMessageSchema, decodePubSubEvent(event.data), (msg, log) =>
    provisionTenant(deps, msg, log, { alertWebhook }),
  );
});

ff.http('sentinel', async (req, res) => {
  const deps = productionDeps('sentinel');
  try {
    const correlationId = req.get('x-correlation-id') ?? deps.ids.next('sweep');
    res.status(200).json(await sentinelSweep(deps, correlationId));
  } catch (err) {
    const e = toFleetError(err, 'UNAVAILABLE');
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
export { handleMessage, decodePubSubEvent } from './pubsub-handler';
