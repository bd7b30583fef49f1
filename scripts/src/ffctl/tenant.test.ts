import { TenantViewSchema, type TenantView } from '@fleetforge/shared';
import { STALE_AFTER_MS, unreachable } from './tenant';

const NOW = new Date('2026-12-01T00:10:00.000Z');
const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();

function view(status: Partial<TenantView['status']>): TenantView {
  return TenantViewSchema.parse({
    spec: { name: 'acme', tier: 'standard', billingId: 'b', admin: 'a', poolNodes: 2 },
    generation: 1,
    desired: 'present',
    action: 'apply',
    correlationId: 'c',
    createdAt: ago(600_000),
    createdBy: 'token:admin',
    updatedAt: ago(1000),
    status: { phase: 'Ready', readyAt: ago(300_000), observedGeneration: 1, ...status },
    kubeconfig: { available: false, deliveredAt: null, deliveredTo: null },
  });
}

const usage = (at: string) => ({ at, pods: 1, runningPods: 1, cpuRequestMillis: 200, memoryRequestMiB: 256 });

describe('ffctl tenant status: when does a tenant count as unreachable', () => {
  test.each<[string, Partial<TenantView['status']>, RegExp | undefined]>([
    [
      'a fresh sample, healthy vcluster',
      { usage: usage(ago(5000)), vcluster: { server: 'https://v', healthy: true, checkedAt: ago(5000) } },
      undefined,
    ],
    ['Failed', { phase: 'Failed', message: 'apply failed: HTTP 403' }, /is Failed: apply failed: HTTP 403/],
    [
      'Unavailable (no cluster)',
      { phase: 'Unavailable', message: 'run npm run kube:up' },
      /Unavailable: run npm run kube:up/,
    ],
    [
      'vcluster failing its health check',
      { usage: usage(ago(1000)), vcluster: { server: 'https://v', healthy: false, checkedAt: ago(1000) } },
      /failed its health check/,
    ],
    [
      'no sample for longer than the limit',
      { usage: usage(ago(STALE_AFTER_MS + 1000)) },
      /agent or the Kubernetes cluster is unreachable/,
    ],
    ['never sampled, ready long ago', { usage: null }, /no observation from the agent since/],
    ['still provisioning (no verdict yet)', { phase: 'Provisioning', readyAt: null }, undefined],
  ])('%s', (_name, status, expected) => {
    const why = unreachable(view(status), NOW);
    if (expected) expect(why).toMatch(expected);
    else expect(why).toBeUndefined();
  });
});
