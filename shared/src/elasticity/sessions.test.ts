import fc from 'fast-check';
import { MemorySessionStore, SessionSchema, type Session } from './sessions';

const session = (id: string, over: Partial<Session> = {}): Session =>
  SessionSchema.parse({
    id,
    x: 1,
    y: 2,
    joinedAt: '2025-06-01T12:00:00.000Z',
    state: { hp: 10, inventory: ['sword'] },
    ...over,
  });

describe('MemorySessionStore', () => {
  let store: MemorySessionStore;
  beforeEach(() => {
    store = new MemorySessionStore();
  });

  it('starts empty', async () => {
    expect(await store.get('p1')).toBeUndefined();
    expect(await store.list()).toEqual([]);
    expect(await store.count()).toBe(0);
  });

  it('put then get/list/count round-trips sessions', async () => {
    await store.put(session('p1'));
    await store.put(session('p2', { x: -5 }));
    expect(await store.get('p1')).toEqual(session('p1'));
    expect(await store.get('p2')).toEqual(session('p2', { x: -5 }));
    expect(await store.list()).toEqual([session('p1'), session('p2', { x: -5 })]);
    expect(await store.count()).toBe(2);
  });

  it('put with an existing id replaces the session', async () => {
    await store.put(session('p1'));
    await store.put(session('p1', { x: 99, state: {} }));
    expect(await store.get('p1')).toEqual(session('p1', { x: 99, state: {} }));
    expect(await store.count()).toBe(1);
  });

  it('delete answers whether something was deleted', async () => {
    await store.put(session('p1'));
    expect(await store.delete('p1')).toBe(true);
    expect(await store.delete('p1')).toBe(false);
    expect(await store.delete('never')).toBe(false);
    expect(await store.get('p1')).toBeUndefined();
    expect(await store.count()).toBe(0);
  });

  const vandalize = (obj: Session) => {
    obj.x = 1000;
    obj.state.hp = 0;
    (obj.state.inventory as string[]).push('stolen');
  };

  it.each([
    ['the object given to put', async (s: MemorySessionStore, given: Session) => given],
    ['an object returned by get', async (s: MemorySessionStore) => (await s.get('p1'))!],
    ['an object returned by list', async (s: MemorySessionStore) => (await s.list())[0]!],
  ])('mutating %s does not change the store', async (_name, obtain) => {
    const given = session('p1');
    await store.put(given);
    vandalize(await obtain(store, given));
    expect(await store.get('p1')).toEqual(session('p1'));
    expect(await store.list()).toEqual([session('p1')]);
  });

  it('behaves like a map under any sequence of put/delete', async () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('put' as const),
        id: fc.constantFrom('a', 'b', 'c'),
        x: fc.integer({ min: -9, max: 9 }),
      }),
      fc.record({ kind: fc.constant('delete' as const), id: fc.constantFrom('a', 'b', 'c') }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 25 }), async (ops) => {
        const s = new MemorySessionStore();
        const model = new Map<string, Session>();
        for (const o of ops) {
          if (o.kind === 'put') {
            const v = session(o.id, { x: o.x });
            await s.put(v);
            model.set(o.id, v);
          } else {
            expect(await s.delete(o.id)).toBe(model.delete(o.id));
          }
        }
        expect(await s.count()).toBe(model.size);
        expect((await s.list()).sort((p, q) => p.id.localeCompare(q.id))).toEqual(
          [...model.values()].sort((p, q) => p.id.localeCompare(q.id)),
        );
        for (const id of ['a', 'b', 'c']) expect(await s.get(id)).toEqual(model.get(id));
      }),
    );
  });
});
