import { AgentDocSchema, paths } from '@fleetforge/shared';
import { memoryDeps } from '../testing/memory-deps';
import { readAgents } from './world-state';

const agent = (id: string, over: { warm: number; warmTarget: number; sentAt: string; receivedAt: string }) =>
  AgentDocSchema.parse({
    agentId: id,
    bootId: 'b',
    startedAt: '2026-12-01T10:00:00.000Z',
    seq: 1,
    driver: 'process',
    cells: 0,
    adopted: true,
    ...over,
  });

describe('readAgents', () => {
  it('no agent: never seen, no pool', async () => {
    expect(await readAgents(memoryDeps().store)).toEqual({ agentSeenAt: null });
  });

  it('the newest heartbeat; warm cells summed over the agents that keep a pool, as of the oldest count', async () => {
    const { store } = memoryDeps();
    const t = (s: number) => `2026-12-01T10:00:${String(s).padStart(2, '0')}.000Z`;
    await store.set(paths.agent('a1'), agent('a1', { warm: 3, warmTarget: 4, sentAt: t(10), receivedAt: t(11) }));
    await store.set(paths.agent('a2'), agent('a2', { warm: 1, warmTarget: 2, sentAt: t(5), receivedAt: t(6) }));
    // No pool (the Kubernetes driver): its count says nothing about warm cells.
    await store.set(paths.agent('k8s'), agent('k8s', { warm: 0, warmTarget: 0, sentAt: t(1), receivedAt: t(20) }));
    expect(await readAgents(store)).toEqual({ agentSeenAt: t(20), agentWarm: { warm: 4, at: t(5) } });
  });
});
