import { FleetError } from '../core/errors';
import type { StateStore } from '../ports/interfaces';
import { foldHistory } from '../world/load-history';
import { LoadDocSchema, packLoadDoc, type LoadDoc } from '../world/model';

/**
 * The StateStore contract. The in-memory fake and the Firestore adapter (on the
 * emulator) both run it, so a unit test on the fake means what it says.
 * `makeStore` must return an empty, isolated store.
 */
export function stateStoreContract(name: string, makeStore: () => Promise<StateStore>): void {
  describe(`StateStore contract: ${name}`, () => {
    let store: StateStore;
    beforeEach(async () => {
      store = await makeStore();
    });
    afterEach(async () => {
      await store.close();
    });

    it('returns undefined for a missing document and round-trips a stored one', async () => {
      expect(await store.get('things/a')).toBeUndefined();
      await store.set('things/a', { n: 1, nested: { s: 'x', list: [1, 2] }, nil: null });
      expect(await store.get('things/a')).toEqual({ n: 1, nested: { s: 'x', list: [1, 2] }, nil: null });
    });

    it('round-trips a load document as ingestMetrics stores it: packed window and folded history', async () => {
      const leaving = [0, 1, 2].map((i) => ({ at: 1_764_583_200_000 + i * 1000, sessions: 10 - i, cpuMillis: 12.5 }));
      const doc: LoadDoc = {
        cell: 'r0c0',
        incarnation: 1,
        sessions: 7,
        cpuMillis: 12.5,
        memoryMiB: 70.25,
        window: [{ at: '2025-12-01T10:00:03.000Z', sessions: 7, cpuMillis: 12.5, memoryMiB: 70.25 }],
        hist: { x: [1, 0], y: [0, 1] },
        history: foldHistory(null, leaving),
        lastReportAt: '2025-12-01T10:00:03.000Z',
      };
      await store.set('worlds/w/loads/r0c0', packLoadDoc(doc));
      expect(LoadDocSchema.parse(await store.get('worlds/w/loads/r0c0'))).toEqual(doc);
    });

    it('create refuses an existing document with CONFLICT; update refuses a missing one with NOT_FOUND', async () => {
      await store.create('things/a', { n: 1 });
      await expect(store.create('things/a', { n: 2 })).rejects.toMatchObject({ code: 'CONFLICT' });
      await expect(store.update('things/missing', { n: 1 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect(await store.get('things/a')).toEqual({ n: 1 });
    });

    it('update replaces only the given top-level fields', async () => {
      await store.set('things/a', { a: 1, b: { c: 2, d: 3 } });
      await store.update('things/a', { b: { c: 9 } });
      expect(await store.get('things/a')).toEqual({ a: 1, b: { c: 9 } });
    });

    it('delete removes a document and is a no-op when it is gone', async () => {
      await store.set('things/a', { n: 1 });
      await store.delete('things/a');
      await store.delete('things/a');
      expect(await store.get('things/a')).toBeUndefined();
    });

    it('lists a collection only (not sub-collections), filtered, ordered and limited', async () => {
      await store.set('worlds/w/cells/c1', { state: 'Ready', n: 3, status: { phase: 'A' } });
      await store.set('worlds/w/cells/c2', { state: 'Pending', n: 1, status: { phase: 'B' } });
      await store.set('worlds/w/cells/c3', { state: 'Ready', n: 2, status: { phase: 'A' } });
      await store.set('worlds/other/cells/c9', { state: 'Ready', n: 0 });
      await store.set('worlds/w', { name: 'w' });
      const all = await store.list('worlds/w/cells');
      expect(all.map((d) => d.id).sort()).toEqual(['c1', 'c2', 'c3']);
      expect(all.find((d) => d.id === 'c1')?.path).toBe('worlds/w/cells/c1');
      const ready = await store.list('worlds/w/cells', {
        where: [{ field: 'state', op: '==', value: 'Ready' }],
        orderBy: { field: 'n', direction: 'asc' },
      });
      expect(ready.map((d) => d.id)).toEqual(['c3', 'c1']);
      const nested = await store.list('worlds/w/cells', { where: [{ field: 'status.phase', op: '==', value: 'B' }] });
      expect(nested.map((d) => d.id)).toEqual(['c2']);
      const top = await store.list('worlds/w/cells', { orderBy: { field: 'n', direction: 'desc' }, limit: 2 });
      expect(top.map((d) => d.id)).toEqual(['c1', 'c3']);
      const range = await store.list('worlds/w/cells', {
        where: [{ field: 'n', op: '>', value: 1 }],
        orderBy: { field: 'n' },
      });
      expect(range.map((d) => d.id)).toEqual(['c3', 'c1']);
    });

    it('matches null with == only: a range filter skips it (active operations have completedAt null)', async () => {
      await store.set('ops/a', { completedAt: null });
      await store.set('ops/b', { completedAt: '2026-12-01T10:00:00.000Z' });
      await store.set('ops/c', { completedAt: '2026-12-01T09:00:00.000Z' });
      const open = await store.list('ops', { where: [{ field: 'completedAt', op: '==', value: null }] });
      expect(open.map((d) => d.id)).toEqual(['a']);
      const recent = await store.list('ops', {
        where: [{ field: 'completedAt', op: '>=', value: '2026-12-01T09:30:00.000Z' }],
      });
      expect(recent.map((d) => d.id)).toEqual(['b']);
    });

    it('applies a batch atomically', async () => {
      await store.set('things/a', { n: 1 });
      await store.batch([
        { op: 'set', path: 'things/b', data: { n: 2 } },
        { op: 'update', path: 'things/a', patch: { n: 10 } },
        { op: 'delete', path: 'things/a' },
      ]);
      expect(await store.get('things/a')).toBeUndefined();
      expect(await store.get('things/b')).toEqual({ n: 2 });
      await expect(
        store.batch([
          { op: 'set', path: 'things/c', data: { n: 3 } },
          { op: 'update', path: 'things/missing', patch: { n: 1 } },
        ]),
      ).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect(await store.get('things/c')).toBeUndefined();
    });

    it('versions documents: a read names the version, which changes when the document does', async () => {
      expect(await store.getVersioned('things/a')).toBeUndefined();
      await store.set('things/a', { n: 1 });
      const v1 = await store.getVersioned('things/a');
      expect(v1?.data).toEqual({ n: 1 });
      expect((await store.getVersioned('things/a'))?.version).toBe(v1?.version);
      await store.update('things/a', { n: 2 });
      const v2 = await store.getVersioned('things/a');
      expect(v2?.data).toEqual({ n: 2 });
      expect(v2?.version).not.toBe(v1?.version);
    });

    it('refuses a conditional batch whose document changed, with ABORTED and nothing written', async () => {
      await store.set('things/a', { n: 1 });
      const read = (await store.getVersioned('things/a'))!;
      await store.update('things/a', { n: 2 });
      for (const conditional of [
        { op: 'update', path: 'things/a', patch: { n: 3 }, ifVersion: read.version },
        { op: 'delete', path: 'things/a', ifVersion: read.version },
      ] as const) {
        await expect(
          store.batch([{ op: 'create', path: 'things/new', data: { n: 1 } }, conditional]),
        ).rejects.toMatchObject({ code: 'ABORTED', retryable: true });
      }
      expect(await store.get('things/new')).toBeUndefined();
      expect(await store.get('things/a')).toEqual({ n: 2 });
      const now = (await store.getVersioned('things/a'))!;
      await store.batch([
        { op: 'create', path: 'things/new', data: { n: 1 } },
        { op: 'update', path: 'things/a', patch: { n: 3 }, ifVersion: now.version },
      ]);
      expect(await store.get('things/a')).toEqual({ n: 3 });
      await expect(store.batch([{ op: 'create', path: 'things/new', data: { n: 2 } }])).rejects.toMatchObject({
        code: 'CONFLICT',
      });
      // Deleted since it was read: refused the same way (the caller reads again and finds it gone).
      const last = (await store.getVersioned('things/a'))!;
      await store.delete('things/a');
      await expect(
        store.batch([{ op: 'update', path: 'things/a', patch: { n: 4 }, ifVersion: last.version }]),
      ).rejects.toMatchObject({ code: 'ABORTED' });
      expect(await store.get('things/a')).toBeUndefined();
    });

    it('ends exact under optimistic commits: concurrent read-then-conditional-write increments all count', async () => {
      await store.set('counters/c', { n: 0 });
      const workers = 8;
      await Promise.all(
        Array.from({ length: workers }, async () => {
          for (;;) {
            const c = (await store.getVersioned('counters/c'))!;
            try {
              await store.batch([
                { op: 'update', path: 'counters/c', patch: { n: (c.data.n as number) + 1 }, ifVersion: c.version },
              ]);
              return;
            } catch (err) {
              if ((err as FleetError).code !== 'ABORTED') throw err;
            }
          }
        }),
      );
      expect(await store.get('counters/c')).toEqual({ n: workers });
    }, 60_000);

    it('commits a transaction and returns its result', async () => {
      await store.set('acct/a', { balance: 10 });
      const result = await store.runTransaction(async (tx) => {
        const a = (await tx.get('acct/a')) as { balance: number };
        const list = await tx.list('acct');
        tx.update('acct/a', { balance: a.balance - 3 });
        tx.create('acct/b', { balance: 3 });
        return list.length;
      });
      expect(result).toBe(1);
      expect(await store.get('acct/a')).toEqual({ balance: 7 });
      expect(await store.get('acct/b')).toEqual({ balance: 3 });
    });

    it('writes nothing when the transaction function throws', async () => {
      await store.set('acct/a', { balance: 10 });
      await expect(
        store.runTransaction(async (tx) => {
          await tx.get('acct/a');
          tx.set('acct/a', { balance: 0 });
          throw new FleetError('FAILED_PRECONDITION', 'no');
        }),
      ).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
      expect(await store.get('acct/a')).toEqual({ balance: 10 });
    });

    it('fails a transaction that creates an existing document, with CONFLICT and no partial write', async () => {
      await store.set('things/a', { n: 1 });
      await expect(
        store.runTransaction(async (tx) => {
          await tx.get('things/a');
          tx.set('things/b', { n: 2 });
          tx.create('things/a', { n: 3 });
        }),
      ).rejects.toMatchObject({ code: 'CONFLICT' });
      expect(await store.get('things/b')).toBeUndefined();
    });

    it('ends exact under contention: concurrent increments all count', async () => {
      await store.set('counters/c', { n: 0 });
      const workers = 12;
      await Promise.all(
        Array.from({ length: workers }, () =>
          store.runTransaction(async (tx) => {
            const c = (await tx.get('counters/c')) as { n: number };
            tx.update('counters/c', { n: c.n + 1 });
          }),
        ),
      );
      expect(await store.get('counters/c')).toEqual({ n: workers });
    }, 60_000); // the Firestore emulator resolves contention with lock waits and client backoff
  });
}
