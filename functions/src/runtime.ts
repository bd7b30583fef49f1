import { createServer } from 'node:http';
import { systemClock, randomIds, type MetricsSink } from '@fleetforge/shared';
import { CloudMonitoringSink } from './adapters/cloud-monitoring-metrics';
import { FirestoreStateStore } from './adapters/firestore-state-store';
import { PromMetricsSink } from './adapters/prom-metrics';
import { PubSubBus } from './adapters/pubsub-bus';
import type { Deps } from './deps';
import { loadEnv } from './env';
import { createLogger } from './log';

let deps: Deps | undefined;
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
  deps = {
    store: new FirestoreStateStore(env.GOOGLE_CLOUD_PROJECT),
    bus: new PubSubBus(env.GOOGLE_CLOUD_PROJECT),
    metrics,
    clock: systemClock,
    ids: randomIds,
    log,
    resendAfterMs: env.FF_RESEND_AFTER_MS,
    staleAfterMs: env.FF_STALE_AFTER_MS,
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
