import { createServer } from 'node:http';
import { FUNCTIONS, systemClock, randomIds, type BlobStore, type MetricsSink } from '@fleetforge/shared';
import { loadBillingKey } from './adapters/billing-key';
import { GcsBlobStore } from './adapters/gcs-blob-store';
import { LocalBlobStore } from './adapters/local-blob-store';
import { nodeDigests } from './adapters/node-digests';
import type { BillingDeps } from './usecases/billing-export';
import { CloudMonitoringSink } from './adapters/cloud-monitoring-metrics';
import { FirestoreStateStore } from './adapters/firestore-state-store';
import { PromMetricsSink } from './adapters/prom-metrics';
import { PubSubBus } from './adapters/pubsub-bus';
import type { Deps } from './deps';
import { loadEnv } from './env';
import { createLogger } from './log';

let deps: Deps | undefined;
let billing: BillingDeps | undefined;

/** Where exports go and the signing key, built once per instance (the key file is created on first use). */
export function productionBillingDeps(): BillingDeps {
  if (billing) return billing;
  const env = loadEnv();
  const blobs: BlobStore = env.FF_EXPORTS_BUCKET
    ? new GcsBlobStore(env.FF_EXPORTS_BUCKET)
    : new LocalBlobStore(env.FF_EXPORTS_DIR);
  billing = {
    blobs,
    key: loadBillingKey({ base64: env.FF_BILLING_KEY, file: env.FF_BILLING_KEY_FILE }),
    digests: nodeDigests,
  };
  return billing;
}
let promSink: PromMetricsSink | undefined;

/** Production wiring, built once per function instance on first use. */
export function productionDeps(component: string): Deps {
  if (deps) return deps;
  const env = loadEnv();
  const log = createLogger(component, env.LOG_LEVEL);
  let metrics: MetricsSink;
  if (env.FF_METRICS === 'cloud-monitoring') {
    metrics = new CloudMonitoringSink(env.GOOGLE_CLOUD_PROJECT, log, {
      resource: { job: component, location: env.FF_REGION },
    });
  } else if (env.FF_METRICS === 'prometheus') {
    promSink = new PromMetricsSink(undefined, { defaultMetrics: true });
    metrics = promSink;
    if (env.FF_METRICS_PORT !== undefined) servePromMetrics(promSink, env.FF_METRICS_PORT, log);
  } else {
    metrics = { inc: () => undefined, set: () => undefined, observe: () => undefined };
  }
  const bus = new PubSubBus(env.GOOGLE_CLOUD_PROJECT);
  const def = Object.values(FUNCTIONS).find((f) => f.name === component);
  // In the background: this instance's first request goes on meanwhile.
  if (def) void bus.warm(def.publishes);
  deps = {
    store: new FirestoreStateStore(env.GOOGLE_CLOUD_PROJECT),
    bus,
    metrics,
    clock: systemClock,
    ids: randomIds,
    log,
    resendAfterMs: env.FF_RESEND_AFTER_MS,
    staleAfterMs: env.FF_STALE_AFTER_MS,
    checkSnapshots: env.FF_CHECK_SNAPSHOTS,
  };
  return deps;
}

/** Locally every function is its own process; each serves its own counters on a side port. */
function servePromMetrics(sink: PromMetricsSink, port: number, log: Deps['log']): void {
  const server = createServer((req, res) => {
    void sink.text().then((text) => {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(text);
    });
  });
  server.on('error', (err) => log.warn({ err: String(err), port }, 'metrics port unavailable'));
  server.listen(port, '127.0.0.1');
  server.unref();
}
