import { join, resolve } from 'node:path';
import { freePort, startEmulators, type RunningEmulators, type RunningKube } from '@fleetforge/emulators';
import { AGENT_IDENTITY_MANIFESTS, applyManifests, startPrivateKube } from '../stack/kube';

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
  // A free block below the private stacks' blocks (20000-32000) and the ephemeral range; retried when taken.
  const kube = await startPrivateKube(resolve(__dirname, '..', '..', '..'));
  const dir = kube.state.dir;
  globalThis.__FF_KUBE__ = kube;
  // The agent's identity gets exactly agent/deploy's RBAC, so tests that act as the agent test that RBAC too.
  const root = resolve(__dirname, '..', '..', '..');
  await applyManifests(
    kube.state.kubeconfig,
    AGENT_IDENTITY_MANIFESTS.map((f) => join(root, 'agent', 'deploy', f)),
  ).catch(async (err: unknown) => {
    await kube.stop();
    throw err;
  });
  process.env.FF_TEST_KUBECONFIG = kube.state.kubeconfig;
  process.env.FF_TEST_AGENT_KUBECONFIG = join(kube.state.dir, 'agent.kubeconfig');
  process.env.FF_TEST_KUBE_DIR = kube.state.dir;
  // Jest runs no teardown when setup fails: stop the tier here then.
  const emulators = await startEmulators({
    firestorePort: await freePort(),
    pubsubPort: await freePort(),
    logDir: dir,
  }).catch(async (err: unknown) => {
    await kube.stop();
    throw err;
  });
  globalThis.__FF_KUBE_EMULATORS__ = emulators;
  process.env.FIRESTORE_EMULATOR_HOST = emulators.firestoreHost;
  process.env.PUBSUB_EMULATOR_HOST = emulators.pubsubHost;
  process.env.METADATA_SERVER_DETECTION = 'none';
}
