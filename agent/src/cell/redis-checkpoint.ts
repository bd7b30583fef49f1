import { Redis, type RedisOptions } from 'ioredis';
import { FleetError, SessionSchema, fencedError, type Session, type SessionCheckpoint } from '@fleetforge/shared';

/**
 * One script does the fence check and the change, so a write can never land after
 * a newer incarnation claimed the key. KEYS: sessions hash, fence. ARGV: incarnation,
 * ttl ms, number of puts, then id/json pairs, then ids to delete. With no changes and
 * ARGV[4] = 'claim' it returns the hash's values.
 */
const SCRIPT = `
local fence = tonumber(redis.call('GET', KEYS[2]) or '0')
local inc = tonumber(ARGV[1])
if fence > inc then return redis.error_reply('FENCED ' .. fence) end
if fence < inc then redis.call('SET', KEYS[2], inc) end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
local puts = tonumber(ARGV[3])
local i = 4
if puts == -1 then return redis.call('HVALS', KEYS[1]) end
if puts > 0 then
  local args = {}
  for j = 1, puts * 2 do args[j] = ARGV[i + j - 1] end
  redis.call('HSET', KEYS[1], unpack(args))
end
i = i + puts * 2
if #ARGV >= i then
  local dels = {}
  for j = i, #ARGV do dels[#dels + 1] = ARGV[j] end
  redis.call('HDEL', KEYS[1], unpack(dels))
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;

/** Lua's unpack has a stack limit; batches larger than this go in several calls. */
const MAX_ARGS = 4000;

export interface RedisCheckpointOptions {
  world: string;
  /** The world's generation: a world applied again starts from nothing. */
  generation: string;
  cell: string;
  incarnation: number;
  /** Keys expire this long after the last write (sessions of a world deleted while its cells ran). */
  ttlMs?: number;
}

/** `ff:s:{world:generation:cell}`: the braces keep a cell's two keys in one Redis Cluster slot. */
export function checkpointKeys(o: Pick<RedisCheckpointOptions, 'world' | 'generation' | 'cell'>) {
  const tag = `{${o.world}:${o.generation}:${o.cell}}`;
  return { sessions: `ff:s:${tag}`, fence: `ff:f:${tag}` };
}

/** A {@link SessionCheckpoint} in Redis: a hash of session JSON per cell, fenced by incarnation. */
export class RedisSessionCheckpoint implements SessionCheckpoint {
  private readonly keys: { sessions: string; fence: string };
  private readonly ttl: string;

  constructor(
    private readonly redis: Redis,
    private readonly opts: RedisCheckpointOptions,
    private readonly ownsClient = false,
  ) {
    this.keys = checkpointKeys(opts);
    this.ttl = String(opts.ttlMs ?? 24 * 3600_000);
  }

  /** Opens its own connection (what a cell process does). */
  static connect(url: string, opts: RedisCheckpointOptions, client: RedisOptions = {}): RedisSessionCheckpoint {
    const redis = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 2, enableOfflineQueue: true, ...client });
    redis.on('error', () => undefined); // surfaced per call; the client reconnects by itself
    return new RedisSessionCheckpoint(redis, opts, true);
  }

  private async run(args: string[]): Promise<unknown> {
    try {
      return await this.redis.eval(
        SCRIPT,
        2,
        this.keys.sessions,
        this.keys.fence,
        String(this.opts.incarnation),
        this.ttl,
        ...args,
      );
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      const m = /FENCED (\d+)/.exec(msg);
      if (m) throw fencedError(this.keys.sessions, this.opts.incarnation, Number(m[1]));
      throw new FleetError('UNAVAILABLE', `session checkpoint: ${msg}`, { cause: err });
    }
  }

  async claim(): Promise<Session[]> {
    const values = (await this.run(['-1'])) as string[];
    return values.map((v) => SessionSchema.parse(JSON.parse(v)));
  }

  async write(batch: { put: readonly Session[]; delete: readonly string[] }): Promise<void> {
    const perCall = Math.floor(MAX_ARGS / 2);
    // Deletes first in their own calls would briefly lose a session moved between two ids; ids
    // are stable, so order only matters within a call, and a call is atomic.
    for (let i = 0; i < Math.max(batch.put.length, 1); i += perCall) {
      const puts = batch.put.slice(i, i + perCall);
      const last = i + perCall >= batch.put.length;
      const dels = last ? batch.delete : [];
      if (puts.length === 0 && dels.length === 0) return;
      await this.runChunks(puts, dels);
    }
  }

  private async runChunks(puts: readonly Session[], dels: readonly string[]): Promise<void> {
    for (let d = 0; d === 0 || d < dels.length; d += MAX_ARGS) {
      const chunk = dels.slice(d, d + MAX_ARGS);
      const p = d === 0 ? puts : [];
      const args = [String(p.length)];
      for (const s of p) args.push(s.id, JSON.stringify(s));
      args.push(...chunk);
      await this.run(args);
    }
  }

  async close(): Promise<void> {
    if (!this.ownsClient) return;
    // QUIT waits for a connection that may never come back; a client that is not connected just stops reconnecting.
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => this.redis.disconnect());
    else this.redis.disconnect();
  }
}
