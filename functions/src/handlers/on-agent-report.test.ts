import { TOPICS, paths, type AgentHeartbeat } from '@fleetforge/shared';
import { FakeClock, SeqIds } from '@fleetforge/shared/testing';
import { memoryDeps } from '../testing/memory-deps';
import { onAgentReport } from './on-agent-report';

const hb = (o: Partial<AgentHeartbeat> = {}): AgentHeartbeat => ({
  warm: 0,
  warmTarget: 0,
  kind: 'heartbeat',
  agentId: 'a1',
  bootId: 'boot-1',
  startedAt: '2026-12-01T10:00:00.000Z',
  at: '2026-12-01T10:00:05.000Z',
  seq: 1,
  driver: 'process',
  cells: 4,
  adopted: true,
  worlds: [],
  correlationId: 'c1',
  ...o,
});

function setup() {
  const deps = memoryDeps({ clock: new FakeClock('2026-12-01T10:00:06.000Z'), ids: new SeqIds() });
  const { store, bus } = deps;
  const agentDoc = async () => store.get(paths.agent('a1'));
  const events = async () => (await store.list('events')).map((d) => d.data as { type: string; reason: string });
  return { store, bus, deps, agentDoc, events };
}

describe('onAgentReport: heartbeats record agent liveness, apart from cells', () => {
  // Each row: heartbeats delivered in order → outcome of the last, and the stored doc.
  const table: Array<{
    name: string;
    sent: AgentHeartbeat[];
    outcome: string;
    doc: Record<string, unknown>;
    restartedEvents: number;
  }> = [
    { name: 'first heartbeat', sent: [hb()], outcome: 'ok', doc: { seq: 1, restarts: 0 }, restartedEvents: 0 },
    {
      name: 'the warm pool: idle cells and the target',
      sent: [hb({ warm: 3, warmTarget: 8 })],
      outcome: 'ok',
      doc: { warm: 3, warmTarget: 8 },
      restartedEvents: 0,
    },
    {
      name: 'next heartbeat of the same boot',
      sent: [hb(), hb({ seq: 2 })],
      outcome: 'ok',
      doc: { seq: 2, restarts: 0 },
      restartedEvents: 0,
    },
    {
      name: 'duplicate (same seq) is stale',
      sent: [hb({ seq: 2 }), hb({ seq: 2 })],
      outcome: 'stale',
      doc: { seq: 2 },
      restartedEvents: 0,
    },
    {
      name: 'late (lower seq) is stale and changes nothing',
      sent: [hb({ seq: 5, cells: 9 }), hb({ seq: 3, cells: 1 })],
      outcome: 'stale',
      doc: { seq: 5, cells: 9 },
      restartedEvents: 0,
    },
    {
      name: 'a new boot is a restart: counted once, announced',
      sent: [hb({ seq: 7 }), hb({ bootId: 'boot-2', startedAt: '2026-12-01T10:00:04.000Z', seq: 0 })],
      outcome: 'ok',
      doc: { bootId: 'boot-2', seq: 0, restarts: 1 },
      restartedEvents: 1,
    },
    {
      name: 'a heartbeat of an earlier boot arriving late is stale',
      sent: [
        hb({ bootId: 'boot-2', startedAt: '2026-12-01T10:00:04.000Z', seq: 0 }),
        hb({ bootId: 'boot-1', startedAt: '2026-12-01T09:00:00.000Z', seq: 99 }),
      ],
      outcome: 'stale',
      doc: { bootId: 'boot-2', restarts: 0 },
      restartedEvents: 0,
    },
  ];

  it.each(table)('$name', async ({ sent, outcome, doc, restartedEvents }) => {
    const t = setup();
    let last = '';
    for (const m of sent) last = await onAgentReport(t.deps, m, t.deps.log);
    expect(last).toBe(outcome);
    expect(await t.agentDoc()).toMatchObject(doc);
    expect((await t.events()).filter((e) => e.type === 'AgentRestarted')).toHaveLength(restartedEvents);
    // A heartbeat never touches cells or worlds.
    expect(await t.store.list('worlds')).toEqual([]);
  });

  it('asks the agent to stop the cells of a world that is gone (an empty sync), and only of that one', async () => {
    const t = setup();
    await t.store.set(paths.world('kept'), { name: 'kept' });
    await onAgentReport(t.deps, hb({ worlds: ['kept', 'gone'] }), t.deps.log);
    const syncs = t.bus.published.filter((p) => p.topic === TOPICS.agentCommands);
    expect(syncs.map((p) => p.message.data)).toEqual([
      expect.objectContaining({ kind: 'sync', world: 'gone', cells: [], keep: [] }),
    ]);
  });
});
