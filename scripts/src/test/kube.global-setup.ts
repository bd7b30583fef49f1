import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, startEmulators, startKube, type RunningEmulators, type RunningKube } from '@fleetforge/emulators';

declare global {
  var __FF_KUBE__: RunningKube | undefined;
  var __FF_KUBE_EMULATORS__: RunningEmulators | undefined;
}

/**
 * Starts a private Kubernetes tier (etcd, kube-apiserver, controllers, scheduler,
 * node shim) and the Google emulators once for the `kube` project. Workers read
 * the admin kubeconfig from FF_TEST_KUBECONFIG and the agent's from
 * FF_TEST_AGENT_KUBECONFIG. Missing binaries fail here, with how to build them.
 */
export default async function globalSetup(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ff-kube-'));
  // Below the private stacks' blocks (20000-32000) and the ephemeral range.
  const portBase = 15_000 + 10 * Math.floor(Math.random() * 490);
  const kube = await startKube({
    dir,
    portBase,
    cellMain: resolve(__dirname, '..', '..', '..', 'agent', 'dist', 'cell', 'main.js'),
  });
  globalThis.__FF_KUBE__ = kube;
  process.env.FF_TEST_KUBECONFIG = kube.state.kubeconfig;
  process.env.FF_TEST_AGENT_KUBECONFIG = join(kube.state.dir, 'agent.kubeconfig');
  process.env.FF_TEST_KUBE_DIR = kube.state.dir;
  const emulators = await startEmulators({ firestorePort: await freePort(), pubsubPort: await freePort(), logDir: dir });
  globalThis.__FF_KUBE_EMULATORS__ = emulators;
  process.env.FIRESTORE_EMULATOR_HOST = emulators.firestoreHost;
  process.env.PUBSUB_EMULATOR_HOST = emulators.pubsubHost;
  process.env.METADATA_SERVER_DETECTION = 'none';
}
