/** The GCP adapters, for other packages (the agent, the local stack) without the function registrations. */
export { FirestoreStateStore } from './firestore-state-store';
export { PubSubBus, ensureTopology, type TopologyOptions } from './pubsub-bus';
export { LocalBlobStore } from './local-blob-store';
export { GcsBlobStore } from './gcs-blob-store';
export { nodeDigests } from './node-digests';
export { loadBillingKey } from './billing-key';
export { PromMetricsSink } from './prom-metrics';
export { CloudMonitoringSink } from './cloud-monitoring-metrics';
export { createLogger, type Logger } from '../log';
