import { Redis } from 'ioredis';
import { sessionCheckpointContract } from '@fleetforge/shared/testing';
import type { Session } from '@fleetforge/shared';
import { RedisSessionCheckpoint, checkpointKeys } from './redis-checkpoint';

const url = process.env.FF_TEST_REDIS_URL;
if (!url) throw new Error('FF_TEST_REDIS_URL is not set: the int global setup starts Redis');
const client = new Redis(url);
afterAll(() => client.quit());

const run = Math.random().toString(36).slice(2, 8);
sessionCheckpointContract(
  'redis',
  async (scope, incarnation) =>
    new RedisSessionCheckpoint(client, { world: `w-${run}`, generation: '1', cell: scope, incarnation }),
);

describe('RedisSessionCheckpoint', () => {
  const s = (id: string): Session => ({ id, x: 1, y: 1, joinedAt: '2026-12-01T00:00:00.000Z', state: { n: id } });

  it('writes batches larger than one script call can carry, atomically per call, and reads them back', async () => {
    const cp = new RedisSessionCheckpoint(client, { world: `big-${run}`, generation: '1', cell: 'c', incarnation: 1 });
    await cp.claim();
    const many = Array.from({ length: 5000 }, (_, i) => s(`s${i}`));
    await cp.write({ put: many, delete: [] });
    await cp.write({ put: [], delete: many.slice(0, 4500).map((x) => x.id) });
    const back = await new RedisSessionCheckpoint(client, {
      world: `big-${run}`,
      generation: '1',
      cell: 'c',
      incarnation: 2,
    }).claim();
    expect(back.map((x) => x.id).sort()).toEqual(
      many
        .slice(4500)
        .map((x) => x.id)
        .sort(),
    );
  });

  it('keeps a generation apart: a world applied again starts empty', async () => {
    const g1 = new RedisSessionCheckpoint(client, { world: `gen-${run}`, generation: '1', cell: 'c', incarnation: 1 });
    await g1.claim();
    await g1.write({ put: [s('old')], delete: [] });
    const g2 = new RedisSessionCheckpoint(client, { world: `gen-${run}`, generation: '2', cell: 'c', incarnation: 1 });
    expect(await g2.claim()).toEqual([]);
  });

  it('expires a cell that stopped writing', async () => {
    const o = { world: `ttl-${run}`, generation: '1', cell: 'c', incarnation: 1, ttlMs: 200 };
    const cp = new RedisSessionCheckpoint(client, o);
    await cp.claim();
    await cp.write({ put: [s('a')], delete: [] });
    const ttl = await client.pttl(checkpointKeys(o).sessions);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(200);
  });

  it('fails UNAVAILABLE, retryable, when Redis is unreachable', async () => {
    // No offline queue: the call fails at once (a queued one leaves a client timer behind the test).
    const cp = RedisSessionCheckpoint.connect(
      'redis://127.0.0.1:1',
      { world: 'x', generation: '1', cell: 'c', incarnation: 1 },
      { enableOfflineQueue: false },
    );
    await expect(cp.claim()).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await cp.close();
  });
});
