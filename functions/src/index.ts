/**
 * Cloud Functions entry points: every function of the table (./function-table),
 * registered with functions-framework on the production runtime. Each is thin:
 * decode and validate, then hand to a handler that loads state, asks a pure
 * engine, and persists/publishes.
 */
import * as ff from '@google-cloud/functions-framework';
import { functionEntries, type FunctionRuntime } from './function-table';
import { loadEnv } from './env';
import type { PubSubEventData } from './pubsub-handler';
import { productionBillingDeps, productionDeps } from './runtime';

const production: FunctionRuntime = { deps: productionDeps, billing: productionBillingDeps, env: () => loadEnv() };

for (const fn of functionEntries()) {
  if ('serve' in fn) ff.http(fn.name, fn.serve(production));
  else ff.cloudEvent<PubSubEventData>(fn.name, fn.onEvent(production));
}

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
export { verifyAuditChain } from './store/records';
export { testDeps, type Deps } from './deps';
export { reconcileWorld } from './usecases/reconcile-world';
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
} from './usecases/billing-export';
export { nodeDigests } from './adapters/node-digests';
export { loadBillingKey } from './adapters/billing-key';
export { GcsBlobStore } from './adapters/gcs-blob-store';
export { handleMessage, decodePubSubEvent } from './pubsub-handler';
export {
  FUNCTION_TABLE,
  functionEntries,
  pubSubFunctions,
  type FunctionEntry,
  type FunctionOptions,
  type FunctionRuntime,
  type HttpFunctionEntry,
  type PubSubFunctionEntry,
} from './function-table';
