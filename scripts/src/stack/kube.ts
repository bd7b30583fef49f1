import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { CELL_POD_LABELS } from '@fleetforge/agent';
import {
  KubePrerequisiteError,
  kubePorts,
  portInUse,
  readKubeState,
  startKube,
  type KubeState,
  type RunningKube,
} from '@fleetforge/emulators';
import { sleep } from '@fleetforge/shared';

/** The manifests that give the agent its identity and RBAC, applied in this order. */
export const AGENT_IDENTITY_MANIFESTS = ['namespace.yaml', 'serviceaccount.yaml', 'rbac.yaml'];

/**
 * Applies every document of the files with server-side apply (create or update, idempotent),
 * as `kubectl apply --server-side` would.
 */
export async function applyManifests(kubeconfig: string, files: string[]): Promise<KubernetesObject[]> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const api = KubernetesObjectApi.makeApiClient(kc);
  const applied: KubernetesObject[] = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
      const obj = doc.toJS() as KubernetesObject | null;
      if (!obj?.kind) continue;
      applied.push(await api.patch(obj, undefined, undefined, 'fleetforge-stack', true, PatchStrategy.ServerSideApply));
    }
  }
  return applied;
}

/** The Kubernetes driver's label on cell pods. */
const CELL_SELECTOR = `${CELL_POD_LABELS.role}=cell`;

/**
 * Deletes every cell pod and waits until none is left: what stopping a stack on the
 * Kubernetes driver does, since the agent leaves its pods running on purpose (a
 * restarted agent adopts them). Returns how many there were.
 */
export async function reapCellPods(kubeconfig: string, namespace: string, timeoutMs = 60_000): Promise<number> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  const list = async () => (await core.listNamespacedPod({ namespace, labelSelector: CELL_SELECTOR })).items;
  const found = (await list()).length;
  if (found === 0) return 0;
  await core.deleteCollectionNamespacedPod({ namespace, labelSelector: CELL_SELECTOR, gracePeriodSeconds: 5 });
  const deadline = Date.now() + timeoutMs;
  while ((await list()).length > 0) {
    if (Date.now() > deadline) throw new Error(`cell pods in ${namespace} still there after ${timeoutMs / 1000}s`);
    await sleep(250);
  }
  return found;
}

/** The running local Kubernetes tier in `dir`, or an error that says how to start it. */
export function requireKube(dir: string): KubeState {
  const state = readKubeState(dir);
  if (state) return state;
  throw new KubePrerequisiteError(
    `the Kubernetes driver runs cells on the local Kubernetes tier, which is not running ` +
      `(no live ${join(dir, 'kube.json')}); start it with \`npm run kube:up\` (and stop it later with \`npm run kube:down\`)`,
  );
}

/**
 * Readies the tier for an agent on the Kubernetes driver: applies agent/deploy's
 * namespaces, service account and RBAC as admin, so the agent's own identity (its
 * static token in `agent.kubeconfig`) gets exactly what the deployment grants.
 * Returns the agent's environment.
 */
export async function prepareKubeAgent(root: string, kubeDir: string): Promise<Record<string, string>> {
  const state = requireKube(resolve(kubeDir));
  await applyManifests(
    state.kubeconfig,
    AGENT_IDENTITY_MANIFESTS.map((f) => join(root, 'agent', 'deploy', f)),
  );
  return {
    FF_DRIVER: 'kubernetes',
    FF_KUBECONFIG: join(state.dir, 'agent.kubeconfig'),
    FF_CELL_NAMESPACE: 'fleetforge-cells',
  };
}

/**
 * A private Kubernetes tier for tests and benchmarks: its own folder and a free block
 * of five ports below the private stacks' blocks (20000+) and the ephemeral range.
 */
export async function startPrivateKube(root: string): Promise<RunningKube> {
  for (let attempt = 1; ; attempt++) {
    const base = 15_000 + 10 * Math.floor(Math.random() * 490);
    const busy = await Promise.all(Object.values(kubePorts(base)).map((p) => portInUse(p)));
    if (busy.some(Boolean)) {
      if (attempt >= 50) throw new KubePrerequisiteError('no free block of 5 ports between 15000 and 19900');
      continue;
    }
    try {
      return await startKube({
        dir: mkdtempSync(join(tmpdir(), 'ff-kube-')),
        portBase: base,
        cellMain: join(root, 'agent', 'dist', 'cell', 'main.js'),
      });
    } catch (err) {
      // Another tier took a port meanwhile: try another block.
      if (!(err instanceof KubePrerequisiteError && /in use/.test(err.message)) || attempt >= 50) throw err;
    }
  }
}
