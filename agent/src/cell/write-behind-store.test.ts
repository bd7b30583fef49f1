import { FleetError, type Session } from '@fleetforge/shared';
import { MemoryCheckpointServer } from '@fleetforge/shared/testing';
import { WriteBehindSessionStore } from './write-behind-store';

const s = (id: string, x = 5, y = 5): Session => ({ id, x, y, joinedAt: '2026-12-01T00:00:00.000Z', state: {} });

/** A store on a fresh memory server; the timer is long so tests drive flushes themselves. */
function setup(incarnation = 1, server = new MemoryCheckpointServer()) {
  const fenced: FleetError[] = [];
  const errors: FleetError[] = [];
  const store = new WriteBehindSessionStore(server.checkpoint('w:0:c', incarnation), {
    flushMs: 60_000,
    onFenced: (e) => fenced.push(e),
    onError: (e) => errors.push(e),
  });
  const durable = () => [...(server.scopes.get('w:0:c')?.sessions.keys() ?? [])].sort();
  return { server, store, fenced, errors, durable };
}

describe('WriteBehindSessionStore', () => {
  afterEach(() => jest.useRealTimers());

  it('serves from memory at once and makes changes durable on flush', async () => {
    const { store, durable } = setup();
    await store.restore(() => true);
    await store.put(s('a'));
    await store.put(s('b'));
    expect(await store.count()).toBe(2);
    expect(durable()).toEqual([]); // not yet: write-behind
    await store.flush();
    expect(durable()).toEqual(['a', 'b']);
    await store.delete('a');
    await store.flush();
    expect(durable()).toEqual(['b']);
    await store.close();
  });

  it('writes one batch per interval, not one per change', async () => {
    const { server, store } = setup();
    await store.restore(() => true);
    for (let i = 0; i < 100; i++) await store.put(s(`s${i}`, i % 10, 1));
    await store.flush();
    expect(server.writes).toBe(1);
    expect(server.scopes.get('w:0:c')?.sessions.size).toBe(100);
  });

  it('restores what the previous incarnation left, dropping sessions outside the region', async () => {
    const { server, store } = setup(1);
    await store.restore(() => true);
    await store.put(s('in', 1, 1));
    await store.put(s('out', 50, 50));
    await store.flush();
    // Incarnation 1 crashed without closing; 2 takes over.
    const next = setup(2, server);
    const r = await next.store.restore((x) => x.x < 10);
    expect(r).toEqual({ restored: 1, dropped: 1 });
    expect((await next.store.list()).map((x) => x.id)).toEqual(['in']);
    await next.store.flush();
    expect(next.durable()).toEqual(['in']); // the dropped one is deleted from the checkpoint too
  });

  it('keeps changes when the checkpoint is down and writes them once it is back', async () => {
    const { server, store, errors, durable } = setup();
    await store.restore(() => true);
    server.down = true;
    await store.put(s('a'));
    await expect(store.flush()).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(errors).toHaveLength(1);
    await store.put(s('b'));
    expect(await store.count()).toBe(2); // serving goes on meanwhile
    server.down = false;
    await store.flush();
    expect(durable()).toEqual(['a', 'b']);
  });

  it('a change made while a failed batch was in flight wins over the retried batch', async () => {
    const { server, store, durable } = setup();
    await store.restore(() => true);
    await store.put(s('a', 1, 1));
    server.down = true;
    const failing = store.flush();
    await store.put(s('a', 2, 2)); // made after the batch left
    await expect(failing).rejects.toBeInstanceOf(FleetError);
    server.down = false;
    await store.flush();
    expect(durable()).toEqual(['a']);
    expect(server.scopes.get('w:0:c')?.sessions.get('a')).toMatchObject({ x: 2, y: 2 });
  });

  it('a fenced incarnation stops taking changes and says so once', async () => {
    const old = setup(1);
    await old.store.restore(() => true);
    await old.store.put(s('a'));
    const next = setup(2, old.server);
    await next.store.restore(() => true); // the replacement claims the checkpoint
    await expect(old.store.flush()).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    expect(old.fenced).toHaveLength(1);
    await expect(old.store.put(s('b'))).rejects.toMatchObject({ details: { reason: 'Fenced' } });
    // What the zombie wrote after the takeover never reached the checkpoint.
    expect(next.durable()).toEqual([]);
  });

  it('flushes in the background every interval', async () => {
    jest.useFakeTimers();
    const server = new MemoryCheckpointServer();
    const store = new WriteBehindSessionStore(server.checkpoint('w:0:c', 1), { flushMs: 100, onFenced: () => {} });
    await store.restore(() => true);
    await store.put(s('a'));
    expect(server.writes).toBe(0);
    await jest.advanceTimersByTimeAsync(100);
    expect(server.writes).toBe(1);
    await store.close();
  });
});
