/**
 * The one table of functions: every entry of the registry (FUNCTIONS in
 * @fleetforge/shared) with its trigger, its message schema and its handler.
 * index.ts registers each with functions-framework from here, and the test helper
 * `wireFunctions` (./testing) subscribes the Pub/Sub-triggered ones to an
 * in-memory bus the same way, so production and tests route a message alike.
 */
import type { CloudEventFunction, HttpFunction } from '@google-cloud/functions-framework';
import type { z } from 'zod';
import {
  AgentMessageSchema,
  CellMetricsMessageSchema,
  FUNCTIONS,
  TenantMessageSchema,
  WorldReconcileMessageSchema,
  pushSubscriptions,
  type BusMessage,
  type FunctionDef,
  type FunctionName,
  type TopicName,
} from '@fleetforge/shared';
import { ingestMetrics } from './handlers/ingest-metrics';
import { onAgentReport } from './handlers/on-agent-report';
import { provisionTenant } from './handlers/provision-tenant';
import { reconcileWorld } from './usecases/reconcile-world';
import { serveApi, serveBillingExport, serveSentinel, type FunctionRuntime } from './http-functions';
import { decodePubSubEvent, handleMessage, type Outcome, type PubSubEventData } from './pubsub-handler';
import type { Deps } from './deps';

export type { FunctionRuntime } from './http-functions';

/** What a message handler needs beyond Deps; production reads it from the environment. */
export interface FunctionOptions {
  /** The pager: provisionTenant POSTs dedicated-pool alerts here (FF_ALERT_WEBHOOK_URL). */
  alertWebhook?: string | undefined;
}

export interface HttpFunctionEntry {
  name: FunctionName;
  def: FunctionDef;
  trigger: { kind: 'http' };
  /** The request handler, on the runtime it takes its dependencies from. */
  serve(runtime: FunctionRuntime): HttpFunction;
}

export interface PubSubFunctionEntry<S extends z.ZodType = z.ZodType> {
  name: FunctionName;
  def: FunctionDef;
  /** The push subscription (from the registry) that delivers the topic's messages to this function. */
  trigger: { kind: 'pubsub'; topic: TopicName; subscription: string };
  schema: S;
  handle(deps: Deps, msg: z.output<S>, log: Deps['log'], options: FunctionOptions): Promise<Outcome>;
  /**
   * One delivery, as every runtime runs it: handleMessage's failure policy around the
   * handler, then the metrics written out whatever happened (CPU is throttled after).
   */
  deliver(deps: Deps, message: () => BusMessage, options: FunctionOptions): Promise<void>;
  /** The functions-framework CloudEvent handler on a runtime. */
  onEvent(runtime: FunctionRuntime): CloudEventFunction<PubSubEventData>;
}

export type FunctionEntry = HttpFunctionEntry | PubSubFunctionEntry;

/** Runs a message handler, then writes the metrics out whether it succeeded or not (CPU is throttled after). */
async function flushAfter(deps: Deps, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } finally {
    await deps.metrics.flush?.();
  }
}

function http(def: FunctionDef, serve: (runtime: FunctionRuntime) => HttpFunction): HttpFunctionEntry {
  return { name: def.name as FunctionName, def, trigger: { kind: 'http' }, serve };
}

function pubsub<S extends z.ZodType>(
  def: FunctionDef,
  schema: S,
  handle: PubSubFunctionEntry<S>['handle'],
): PubSubFunctionEntry<S> {
  const name = def.name as FunctionName;
  const subs = pushSubscriptions().filter((s) => s.delivery.function === name);
  if (subs.length !== 1) throw new Error(`${name}: ${subs.length} push subscriptions in the registry, expected 1`);
  const sub = subs[0]!;
  const deliver = (deps: Deps, message: () => BusMessage, options: FunctionOptions) =>
    flushAfter(deps, () => handleMessage(deps, name, schema, message(), (msg, log) => handle(deps, msg, log, options)));
  return {
    name,
    def,
    trigger: { kind: 'pubsub', topic: sub.topic, subscription: sub.name },
    schema,
    handle,
    deliver,
    onEvent: (runtime) => async (event) => {
      const deps = runtime.deps(name);
      const options: FunctionOptions = { alertWebhook: runtime.env().FF_ALERT_WEBHOOK_URL };
      await deliver(deps, () => decodePubSubEvent(event.data), options);
    },
  };
}

type Functions = typeof FUNCTIONS;
/** Each registry entry, with the kind of entry its signature calls for. */
type Table = {
  readonly [K in keyof Functions]: Functions[K]['signature'] extends 'http'
    ? HttpFunctionEntry
    : PubSubFunctionEntry<z.ZodType>;
};

export const FUNCTION_TABLE: Table = {
  api: http(FUNCTIONS.api, serveApi),
  reconcileWorld: pubsub(FUNCTIONS.reconcileWorld, WorldReconcileMessageSchema, reconcileWorld),
  ingestMetrics: pubsub(FUNCTIONS.ingestMetrics, CellMetricsMessageSchema, ingestMetrics),
  onAgentReport: pubsub(FUNCTIONS.onAgentReport, AgentMessageSchema, onAgentReport),
  provisionTenant: pubsub(FUNCTIONS.provisionTenant, TenantMessageSchema, (deps, msg, log, options) =>
    provisionTenant(deps, msg, log, { alertWebhook: options.alertWebhook }),
  ),
  sentinel: http(FUNCTIONS.sentinel, serveSentinel),
  billingExport: http(FUNCTIONS.billingExport, serveBillingExport),
};

/** Every entry of the table, in registry order. */
export function functionEntries(): FunctionEntry[] {
  return Object.values(FUNCTION_TABLE);
}

/** The Pub/Sub-triggered entries. */
export function pubSubFunctions(): PubSubFunctionEntry[] {
  return functionEntries().filter((f): f is PubSubFunctionEntry => f.trigger.kind === 'pubsub');
}
