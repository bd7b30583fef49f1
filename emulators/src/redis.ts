import { mkdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { sleep } from '@fleetforge/shared';
import { PrerequisiteError, which } from './google-emulators';
import { spawnManaged, type ManagedProcess } from './process-group';

export interface RunningRedis {
  process: ManagedProcess;
  /** `redis://127.0.0.1:<port>` */
  url: string;
}

export interface StartRedisOptions {
  port: number;
  /** Data (AOF) and the log go here. */
  dir: string;
  /** Command to run (default: `redis-server` on PATH). */
  command?: string;
}

/** Where `redis-server` is, or a clear error naming the package that provides it. */
export function findRedis(): string {
  const bin = which('redis-server');
  if (!bin) {
    throw new PrerequisiteError(
      'redis-server is not on PATH; durable sessions need it (Debian: apt-get install redis-server).',
    );
  }
  return bin;
}

/** Resolves once something answers PING on the port with PONG. */
async function waitForPong(port: number, timeoutMs: number, died: Promise<unknown>): Promise<void> {
  let dead = false;
  void died.then(() => (dead = true));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port });
      let buf = '';
      s.setTimeout(500, () => (s.destroy(), resolve(false)));
      s.on('error', () => resolve(false));
      s.on('connect', () => s.write('PING\r\n'));
      s.on('data', (d) => {
        buf += d.toString();
        if (buf.includes('\r\n')) {
          s.destroy();
          resolve(buf.startsWith('+PONG'));
        }
      });
    });
    if (ok) return;
    if (dead) throw new Error(`redis-server on port ${port} exited before it answered`);
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/**
 * Starts Debian's redis-server on loopback as the stack's durable session store:
 * append-only file fsynced every second, so a crash of Redis itself loses at most a
 * second; a crash of a cell loses only what its write-behind had not flushed.
 */
export async function startRedis(opts: StartRedisOptions): Promise<RunningRedis> {
  const command = opts.command ?? findRedis();
  mkdirSync(opts.dir, { recursive: true });
  const proc = spawnManaged({
    name: 'redis',
    command,
    args: [
      '--port',
      String(opts.port),
      '--bind',
      '127.0.0.1',
      '--dir',
      opts.dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--save',
      '',
      '--daemonize',
      'no',
      '--protected-mode',
      'yes',
    ],
    logFile: join(opts.dir, 'redis.log'),
  });
  try {
    await waitForPong(opts.port, 15_000, proc.exited);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return { process: proc, url: `redis://127.0.0.1:${opts.port}` };
}
