import { FleetError } from '../core/errors';
import type { Session, SessionCheckpoint } from '../elasticity/sessions';

const s = (id: string, x = 1, y = 2): Session => ({ id, x, y, joinedAt: '2026-12-01T00:00:00.000Z', state: { hp: 7 } });

/** Expects `p` to reject with the fencing error. */
async function expectFenced(p: Promise<unknown>): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FleetError);
  expect((err as FleetError).code).toBe('FAILED_PRECONDITION');
  expect((err as FleetError).details.reason).toBe('Fenced');
}

/**
 * The SessionCheckpoint contract, for the in-memory fake and the Redis adapter.
 * `make(scope, incarnation)` returns a checkpoint of that scope as that incarnation
 * would open it; scopes are fresh per test.
 */
export function sessionCheckpointContract(
  name: string,
  make: (scope: string, incarnation: number) => Promise<SessionCheckpoint>,
): void {
  describe(`SessionCheckpoint contract: ${name}`, () => {
    let n = 0;
    let scope: string;
    const opened: SessionCheckpoint[] = [];
    const open = async (inc: number, sc = scope) => {
      const cp = await make(sc, inc);
      opened.push(cp);
      return cp;
    };
    beforeEach(() => {
      scope = `contract-${process.pid}-${Date.now()}-${n++}`;
    });
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((c) => c.close()));
    });

    it('starts empty, and a replacement incarnation restores what was written, deletes applied', async () => {
      const one = await open(1);
      expect(await one.claim()).toEqual([]);
      await one.write({ put: [s('a'), s('b'), s('c', 5, 6)], delete: [] });
      await one.write({ put: [s('c', 9, 9)], delete: ['a'] });
      const two = await open(2);
      const restored = await two.claim();
      expect(restored.sort((p, q) => p.id.localeCompare(q.id))).toEqual([s('b'), s('c', 9, 9)]);
    });

    it('fences off an older incarnation once a newer one has claimed (writes and claims)', async () => {
      const one = await open(1);
      await one.claim();
      await one.write({ put: [s('a')], delete: [] });
      const two = await open(2);
      await two.claim();
      await expectFenced(one.write({ put: [s('zombie')], delete: ['a'] }));
      await expectFenced((await open(1)).claim());
      expect((await (await open(2)).claim()).map((x) => x.id)).toEqual(['a']);
    });

    it('claims idempotently for the same incarnation, and keeps scopes apart', async () => {
      const one = await open(3);
      await one.write({ put: [s('a')], delete: [] });
      expect((await (await open(3)).claim()).map((x) => x.id)).toEqual(['a']);
      expect(await (await open(1, `${scope}-other`)).claim()).toEqual([]);
    });

    it('round-trips a large batch with its game state', async () => {
      const many = Array.from({ length: 5000 }, (_, i) => s(`p-${i}`, i, -i));
      await (await open(1)).write({ put: many, delete: [] });
      const back = await (await open(2)).claim();
      expect(back).toHaveLength(5000);
      expect(back.find((x) => x.id === 'p-4242')).toEqual(s('p-4242', 4242, -4242));
    });
  });
}
