import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { KubeConfig, KubernetesObjectApi, PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { KubePrerequisiteError, readKubeState, type KubeState } from '@fleetforge/emulators';

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
