import type { V1Node, V1Pod } from '@kubernetes/client-node';

/** Parses Kubernetes quantities (`500m`, `2`, `128Mi`, `1Gi`) into millicores or MiB. */
export function cpuMillis(q: string | undefined): number {
  if (!q) return 0;
  if (q.endsWith('m')) return Number(q.slice(0, -1));
  return Number(q) * 1000;
}

export function memoryMiB(q: string | undefined): number {
  if (!q) return 0;
  const units: Record<string, number> = {
    Ki: 1 / 1024,
    Mi: 1,
    Gi: 1024,
    Ti: 1024 * 1024,
    k: 1000 / 1048576,
    M: 1e6 / 1048576,
    G: 1e9 / 1048576,
  };
  const m = /^([0-9.]+)([A-Za-z]*)$/.exec(q);
  if (!m) return 0;
  const unit = m[2] ?? '';
  return Number(m[1]) * (unit === '' ? 1 / 1048576 : (units[unit] ?? 0));
}

function podRequests(pod: V1Pod): { cpu: number; mem: number } {
  let cpu = 0;
  let mem = 0;
  for (const c of pod.spec?.containers ?? []) {
    cpu += cpuMillis(c.resources?.requests?.cpu);
    mem += memoryMiB(c.resources?.requests?.memory);
  }
  return { cpu, mem };
}

/** The requests of pods' containers, summed pod by pod: millicores and MiB. */
export const sumRequests = (pods: readonly V1Pod[]): { cpu: number; mem: number } =>
  pods.reduce(
    (a, p) => {
      const r = podRequests(p);
      return { cpu: a.cpu + r.cpu, mem: a.mem + r.mem };
    },
    { cpu: 0, mem: 0 },
  );

const readyCondition = (conditions: ReadonlyArray<{ type: string; status: string }> | undefined) =>
  (conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/** Not finished (neither Succeeded nor Failed). */
export const live = (p: V1Pod) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed';

export const podReady = (p: V1Pod) => live(p) && !p.metadata?.deletionTimestamp && readyCondition(p.status?.conditions);

export const nodeReady = (n: V1Node) => readyCondition(n.status?.conditions);
