import type { BlobStore } from '../ports';

/** The BlobStore contract, for the in-memory fake and the local-folder adapter (the GCS stand-in). */
export function blobStoreContract(name: string, makeStore: () => Promise<BlobStore>): void {
  describe(`BlobStore contract: ${name}`, () => {
    let store: BlobStore;
    beforeEach(async () => {
      store = await makeStore();
    });

    it('round-trips bytes and text and lists by prefix in key order', async () => {
      await store.put('exports/2026/b.csv', 'a,b\n1,2\n', 'text/csv');
      await store.put('exports/2026/a.json', new Uint8Array([123, 125]), 'application/json');
      await store.put('other/x', 'x', 'text/plain');
      expect(new TextDecoder().decode(await store.get('exports/2026/b.csv'))).toBe('a,b\n1,2\n');
      expect(Array.from((await store.get('exports/2026/a.json')) ?? [])).toEqual([123, 125]);
      const listed = await store.list('exports/');
      expect(listed).toEqual([
        { key: 'exports/2026/a.json', size: 2, contentType: 'application/json' },
        { key: 'exports/2026/b.csv', size: 8, contentType: 'text/csv' },
      ]);
    });

    it('returns undefined for a missing key and overwrites on put', async () => {
      expect(await store.get('nope')).toBeUndefined();
      await store.put('k', 'one', 'text/plain');
      await store.put('k', 'two', 'text/plain');
      expect(new TextDecoder().decode(await store.get('k'))).toBe('two');
      await store.delete('k');
      expect(await store.get('k')).toBeUndefined();
      expect(await store.list('k')).toEqual([]);
    });

    it('creates only once: a second create fails with ALREADY_EXISTS and leaves the first body', async () => {
      await store.create('exports/m.json', 'first', 'application/json');
      await expect(store.create('exports/m.json', 'second', 'application/json')).rejects.toMatchObject({
        code: 'ALREADY_EXISTS',
      });
      expect(new TextDecoder().decode(await store.get('exports/m.json'))).toBe('first');
      expect(await store.list('exports/')).toEqual([
        { key: 'exports/m.json', size: 5, contentType: 'application/json' },
      ]);
    });

    it('lets exactly one of several concurrent creates of a key win', async () => {
      const results = await Promise.allSettled(
        [1, 2, 3, 4, 5].map((i) => store.create('race/k', `body-${i}`, 'text/plain')),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results.filter((x) => x.status === 'rejected')) {
        expect(r.reason).toMatchObject({ code: 'ALREADY_EXISTS' });
      }
    });
  });
}
