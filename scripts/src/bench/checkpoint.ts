/**
 * `npm run bench:checkpoint`: what durable sessions cost and what a crash loses.
 *
 * 1. Write cost of one checkpoint batch (the sessions a cell changed in one interval)
 *    to Redis (the adapter the cells use) and to the Firestore emulator (a batched
 *    write, one document per session, 500 per batch: Firestore's limit), for batches
 *    of 1, 100 and 1,000 sessions.
 * 2. Lost moves: a real cell process with a 100 ms checkpoint takes moves as fast as
 *    a client can send them, is SIGKILLed at a random moment, and its next
 *    incarnation restores from Redis. For every session, the moves acknowledged
 *    before the kill but missing from the restored position form the loss window.
 *
 * Writes bench-results/checkpoint.json with p50/p95 and the machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Firestore } from '@google-cloud/firestore';
import { Redis } from 'ioredis';
import { RedisSessionCheckpoint } from '@fleetforge/agent';
import { freePort, startEmulators, startRedis } from '@fleetforge/emulators';
import { sleep, type Session } from '@fleetforge/shared';
import { machine, percentile } from './machine';

const ROOT = join(__dirname, '..', '..', '..');
const CELL_MAIN = join(ROOT, 'agent', 'dist', 'cell', 'main.js');
const round = (x: number) => Math.round(x * 100) / 100;

function stats(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  return { runs: s.length, p50Ms: round(percentile(s, 50)), p95Ms: round(percentile(s, 95)), maxMs: round(s.at(-1)!) };
}

const session = (i: number, k: number): Session => ({
  id: `s${i}`,
  x: (i * 7 + k) % 500,
  y: (i * 13 + k) % 500,
  joinedAt: '2026-12-01T00:00:00.000Z',
  state: { hp: 100, inventory: ['sword', 'shield'], k },
});

async function redisWrites(url: string, batch: number, runs: number): Promise<number[]> {
  const client = new Redis(url);
  const cp = new RedisSessionCheckpoint(client, { world: 'bench', generation: '1', cell: `b${batch}`, incarnation: 1 });
  await cp.claim();
  const out: number[] = [];
  for (let r = 0; r < runs; r++) {
    const put = Array.from({ length: batch }, (_, i) => session(i, r));
    const t0 = performance.now();
    await cp.write({ put, delete: [] });
    out.push(performance.now() - t0);
  }
  await client.quit();
  return out;
}

async function firestoreWrites(db: Firestore, batch: number, runs: number): Promise<number[]> {
  const col = db.collection(`bench-sessions-${batch}`);
  const out: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i += 500) {
      const b = db.batch();
      for (let j = i; j < Math.min(batch, i + 500); j++) b.set(col.doc(`s${j}`), session(j, r));
      await b.commit();
    }
    out.push(performance.now() - t0);
  }
  return out;
}

interface CellProc {
  child: ChildProcess;
  endpoint: string;
}

async function startCell(redisUrl: string, generation: string, incarnation: number, dir: string): Promise<CellProc> {
  const endpointFile = join(dir, `cell-${generation}-${incarnation}.endpoint.json`);
  const child = spawn(process.execPath, [CELL_MAIN], {
    env: {
      ...process.env,
      FF_WORLD: 'bench',
      FF_CELL: 'c',
      FF_INCARNATION: String(incarnation),
      FF_BOUNDARY: JSON.stringify({ x: 0, y: 0, width: 1000, height: 1000 }),
      FF_CAPACITY: JSON.stringify({ sessions: 5000, cpuMillis: 1000, memoryMiB: 512 }),
      FF_REDIS_URL: redisUrl,
      FF_WORLD_GENERATION: generation,
      FF_CHECKPOINT_MS: '100',
      FF_ENDPOINT_FILE: endpointFile,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 20_000;
  while (!existsSync(endpointFile)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('cell did not start');
    await sleep(20);
  }
  const { endpoint } = JSON.parse(readFileSync(endpointFile, 'utf8')) as { endpoint: string };
  return { child, endpoint };
}

/** One crash: returns per-session loss windows (ms of acknowledged moves the restore does not have). */
async function crashOnce(redisUrl: string, generation: string, dir: string, sessions: number) {
  const cell = await startCell(redisUrl, generation, 1, dir);
  const post = (path: string, body: unknown) =>
    fetch(`${cell.endpoint}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  // Every session's moves in the order sent, with the time of the acknowledgement (none if the kill cut it).
  const acked = new Map<string, Array<{ x: number; y: number; at: number | undefined }>>();
  for (let i = 0; i < sessions; i++) {
    const id = `m${i}`;
    const r = await post('/v1/sessions', { id, x: i, y: 0 });
    if (r.status !== 200 && r.status !== 201) throw new Error(`join: HTTP ${r.status}`);
    await r.arrayBuffer();
    acked.set(id, [{ x: i, y: 0, at: performance.now() }]);
  }
  await sleep(300);
  let stop = false;
  let step = 0;
  const mover = async (lane: number) => {
    while (!stop) {
      const i = (step++ * 7 + lane) % sessions;
      const id = `m${i}`;
      const y = step % 1000;
      const move: { x: number; y: number; at: number | undefined } = { x: i, y, at: undefined };
      acked.get(id)!.push(move);
      const r = await post(`/v1/sessions/${id}/move`, { x: i, y }).catch(() => undefined);
      if (r?.ok) move.at = performance.now();
      await r?.arrayBuffer().catch(() => undefined);
    }
  };
  const lanes = Array.from({ length: 8 }, (_, l) => mover(l));
  await sleep(1000 + Math.random() * 1000);
  const killedAt = performance.now();
  cell.child.kill('SIGKILL');
  stop = true;
  await Promise.all(lanes);
  const next = await startCell(redisUrl, generation, 2, dir);
  const restored = (await (await fetch(`${next.endpoint}/v1/sessions`)).json()) as { items: Session[] };
  const byId = new Map(restored.items.map((s) => [s.id, s]));
  const windows: number[] = [];
  let lostSessions = 0;
  let movesAcked = 0;
  let movesLost = 0;
  for (const [id, history] of acked) {
    movesAcked += history.filter((h) => h.at !== undefined).length - 1;
    const s = byId.get(id);
    if (!s) {
      lostSessions += 1;
      continue;
    }
    // The newest position sent that the restore matches (a move cut by the kill may have landed);
    // every acknowledged move after it is lost.
    let k = history.length - 1;
    while (k >= 0 && !(history[k]!.x === s.x && history[k]!.y === s.y)) k--;
    if (k < 0) throw new Error(`session ${id} restored at a position it was never sent to`);
    const lost = history.slice(k + 1).filter((h): h is { x: number; y: number; at: number } => h.at !== undefined);
    movesLost += lost.length;
    windows.push(lost.length ? killedAt - lost[0]!.at : 0);
  }
  next.child.kill('SIGTERM');
  await new Promise((r) => next.child.once('exit', r));
  return { windows, lostSessions, movesAcked, movesLost };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ff-bench-checkpoint-'));
  const redis = await startRedis({ port: await freePort(), dir: join(dir, 'redis') });
  const emulators = await startEmulators({
    firestorePort: await freePort(),
    pubsubPort: await freePort(),
    logDir: dir,
  });
  process.env.FIRESTORE_EMULATOR_HOST = emulators.firestoreHost;
  const db = new Firestore({ projectId: 'ff-bench-checkpoint' });
  try {
    const writes: Record<string, unknown> = {};
    for (const batch of [1, 100, 1000]) {
      const runs = batch === 1000 ? 20 : 50;
      await redisWrites(redis.url, batch, 3);
      await firestoreWrites(db, batch, 2);
      writes[`batch${batch}`] = {
        redis: stats(await redisWrites(redis.url, batch, runs)),
        firestoreEmulator: stats(await firestoreWrites(db, batch, runs)),
      };
      process.stderr.write(`batch ${batch}: ${JSON.stringify(writes[`batch${batch}`])}\n`);
    }
    const crashes = Number(process.env.FF_BENCH_CRASHES ?? 10);
    const windows: number[] = [];
    let lostSessions = 0;
    let movesAcked = 0;
    let movesLost = 0;
    for (let c = 0; c < crashes; c++) {
      const r = await crashOnce(redis.url, `crash-${c}`, dir, 200);
      windows.push(...r.windows);
      lostSessions += r.lostSessions;
      movesAcked += r.movesAcked;
      movesLost += r.movesLost;
      process.stderr.write(`crash ${c + 1}/${crashes}: ${r.movesLost}/${r.movesAcked} moves lost\n`);
    }
    const lossWindows = stats(windows);
    const out = {
      bench: 'checkpoint',
      at: new Date().toISOString(),
      machine: machine(),
      checkpointIntervalMs: 100,
      writeCost: writes,
      crash: {
        crashes,
        sessionsPerCell: 200,
        lostSessions,
        movesAcked,
        movesLost,
        lossWindowMs: lossWindows,
        target: 'loss window p95 <= 1000 ms (aim: about one checkpoint interval)',
      },
      notes:
        'The Firestore emulator is in-memory on loopback: real Firestore adds network round trips and bills every ' +
        'document written, and holds a document to about one sustained write per second.',
    };
    mkdirSync(join(ROOT, 'bench-results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench-results', 'checkpoint.json'), `${JSON.stringify(out, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } finally {
    await db.terminate();
    await emulators.stop();
    await redis.process.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
