import type { BlobStore } from '../ports/interfaces';

/**
 * The BlobStore contract, for the in-memory fake, the local-folder adapter and the GCS
 * adapter (on firebase-tools' Storage emulator). Each store it is given starts empty.
 */
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

    it('answers a missing key and prefix without failing: get undefined, list empty, delete a no-op', async () => {
      expect(await store.get('missing/k')).toBeUndefined();
      expect(await store.list('missing/')).toEqual([]);
      await expect(store.delete('missing/k')).resolves.toBeUndefined();
      await store.put('present', 'x', 'text/plain');
      expect(await store.list('missing/')).toEqual([]);
    });

    it('round-trips every byte value, and keys with spaces, +, %, #, ? and non-ASCII characters', async () => {
      const all = new Uint8Array(256).map((_, i) => i);
      await store.put('bin/all-bytes', all, 'application/octet-stream');
      expect(Array.from((await store.get('bin/all-bytes')) ?? [])).toEqual(Array.from(all));
      const keys = ['odd/a b+c', 'odd/100%', 'odd/#frag?q=1', 'odd/zoë/日本'].sort();
      for (const k of keys) await store.put(k, k, 'text/plain');
      for (const k of keys) expect(new TextDecoder().decode(await store.get(k))).toBe(k);
      expect((await store.list('odd/')).map((b) => b.key)).toEqual(keys);
    });

    it('lists every key under a prefix, however many pages the backend needs, and only those', async () => {
      const keys = Array.from({ length: 25 }, (_, i) => `page/${String(i).padStart(3, '0')}.json`);
      await Promise.all(keys.map((k) => store.put(k, '{}', 'application/json')));
      await store.put('pages/decoy', 'x', 'text/plain');
      await store.put('pag', 'x', 'text/plain');
      const listed = await store.list('page/');
      expect(listed.map((b) => b.key)).toEqual(keys);
      expect(listed.every((b) => b.size === 2 && b.contentType === 'application/json')).toBe(true);
      expect(await store.list('page')).toHaveLength(26);
    });

    it('creates again after a delete, and a create of one key does not block another', async () => {
      await store.create('exports/d.json', 'one', 'application/json');
      await store.delete('exports/d.json');
      await store.create('exports/d.json', 'two', 'application/json');
      await store.create('exports/e.json', 'three', 'application/json');
      expect(new TextDecoder().decode(await store.get('exports/d.json'))).toBe('two');
      expect((await store.list('exports/')).map((b) => b.key)).toEqual(['exports/d.json', 'exports/e.json']);
    });

    it('creates only once: a second create fails with ALREADY_EXISTS and leaves the first body', async () => {
      await store.create('exports/m.json', 'first', 'application/json');
      await expect(store.create('exports/m.json', 'second', 'application/json')).rejects.toMatchObject({
        code: 'ALREADY_EXISTS',
        retryable: false,
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
