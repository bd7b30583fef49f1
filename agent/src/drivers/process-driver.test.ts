import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitUntil, type CellRunSpec, type DriverEvent } from '@fleetforge/shared';
import { RecordingMetricsSink } from '@fleetforge/shared/testing';
import { HttpCellClient } from '../cell-client';
import { ProcessDriver, reapCells } from './process-driver';

/** Real cell processes: the compiled entry point (`npm test` builds first). */
const CELL_MAIN = join(__dirname, '..', '..', 'dist', 'cell', 'main.js');
if (!existsSync(CELL_MAIN)) throw new Error(`${CELL_MAIN} is missing: run \`npm run build\` first`);

const client = new HttpCellClient();

const until = (what: string, cond: () => boolean, timeoutMs: number) => waitUntil(what, cond, { timeoutMs });

const spec = (cell: string, incarnation = 1): CellRunSpec => ({
  world: 'w1',
  cell,
  incarnation,
  boundary: { x: 0, y: 0, width: 100, height: 100 },
  capacity: { sessions: 100, cpuMillis: 1000, memoryMiB: 256 },
  epoch: 1,
  neverReady: false,
  correlationId: `corr-${cell}`,
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('ProcessDriver warm pool (real cell processes)', () => {
  let stateDir: string;
  const drivers: ProcessDriver[] = [];
  const driver = (metrics = new RecordingMetricsSink(), warmParallel?: number) => {
    const d = new ProcessDriver({
      stateDir,
      cellMain: CELL_MAIN,
      metrics,
      pollMs: 100,
      ...(warmParallel ? { warmParallel } : {}),
    });
    drivers.push(d);
    const events: DriverEvent[] = [];
    d.onEvent((e) => events.push(e));
    return { d, events, metrics };
  };
  const readyEndpoint = async (events: DriverEvent[], cell: string) => {
    await until(`${cell} ready`, () => events.some((e) => e.kind === 'ready' && e.cell === cell), 20_000);
    return (events.find((e) => e.kind === 'ready' && e.cell === cell) as { endpoint: string }).endpoint;
  };

  beforeEach(() => {
    stateDir = mkdtempSync(join(tmpdir(), 'ff-process-driver-'));
  });
  afterEach(async () => {
    for (const d of drivers.splice(0)) {
      await d.stopAll('test over');
      await d.close();
    }
    await reapCells(stateDir, 1000);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('starts a cell on a warm process (no new process), reports it ready, and refills the pool', async () => {
    const { d, events, metrics } = driver();
    d.setWarmTarget(2);
    await until('2 warm cells', () => d.warmCount() === 2, 20_000);
    const warmPids = d.warmPids();

    await d.start(spec('r0c0'));
    const endpoint = await readyEndpoint(events, 'r0c0');
    const [pid] = d.pids();
    expect(warmPids).toContain(pid);
    expect(await client.info(endpoint)).toEqual({ world: 'w1', cell: 'r0c0', incarnation: 1, pid });
    expect(events.filter((e) => e.cell === 'r0c0').map((e) => e.kind)).toEqual(['started', 'ready']);
    expect(metrics.value('fleetforge_agent_cell_starts_total', { driver: 'process', source: 'warm' })).toBe(1);
    // The pool is refilled in the background with new processes.
    await until('pool refilled', () => d.warmCount() === 2, 20_000);
    expect(d.warmPids()).not.toContain(pid);
    // A warm-born cell is a cell like any other: stopping it is reported as requested.
    await d.stop('w1', 'r0c0', 'test');
    expect(events.at(-1)).toMatchObject({ kind: 'exited', cell: 'r0c0', requested: true, reason: 'test' });
    expect(alive(pid!)).toBe(false);
  });

  it.each([1, 2])('refills the pool starting %i warm cell(s) at a time', async (parallel) => {
    const { d } = driver(new RecordingMetricsSink(), parallel);
    let most = 0;
    const watch = setInterval(() => (most = Math.max(most, d.warmPids().length - d.warmCount())), 2);
    try {
      d.setWarmTarget(4);
      await until('4 warm cells', () => d.warmCount() === 4, 30_000);
    } finally {
      clearInterval(watch);
    }
    expect(most).toBe(parallel);
  });

  it('starts cold when the pool is empty, and shrinking the pool stops idle cells', async () => {
    const { d, events, metrics } = driver();
    await d.start(spec('r0c1'));
    await readyEndpoint(events, 'r0c1');
    expect(metrics.value('fleetforge_agent_cell_starts_total', { driver: 'process', source: 'cold' })).toBe(1);

    d.setWarmTarget(2);
    await until('2 warm cells', () => d.warmCount() === 2, 20_000);
    const idle = d.warmPids();
    d.setWarmTarget(0);
    expect(d.warmCount()).toBe(0);
    await until('idle cells stopped', () => idle.every((p) => !alive(p)), 10_000);
    expect(d.pids()).toHaveLength(1); // the serving cell is untouched
  });

  it('a start for a world applied again replaces the cell of the same name and incarnation, silently; a late start of the old world is ignored', async () => {
    const before = '2026-12-01T10:00:00.000Z';
    const after = '2026-12-01T10:05:00.000Z';
    const { d, events } = driver();
    await d.start({ ...spec('r0c0'), generation: before });
    await readyEndpoint(events, 'r0c0');
    const [old] = d.pids();
    events.length = 0;

    await d.start({ ...spec('r0c0'), generation: after, boundary: { x: 0, y: 0, width: 50, height: 50 } });
    await readyEndpoint(events, 'r0c0');
    expect(alive(old!)).toBe(false);
    expect(d.pids()).not.toContain(old);
    expect(d.list()).toEqual([expect.objectContaining({ cell: 'r0c0', incarnation: 1, generation: after })]);
    // The old process's exit is not reported: (w1, r0c0, 1) names the new cell now.
    expect(events.filter((e) => e.kind === 'exited')).toEqual([]);
    const info = (await (await fetch(`${d.list()[0]!.endpoint!}/v1/info`)).json()) as { boundary: unknown };
    expect(info.boundary).toEqual({ x: 0, y: 0, width: 50, height: 50 });

    const [current] = d.pids();
    await d.start({ ...spec('r0c0'), generation: before });
    expect(d.pids()).toEqual([current]);
  });

  it('a restarted agent adopts a warm-born cell and stops the idle ones the old agent left', async () => {
    const first = driver();
    first.d.setWarmTarget(2);
    await until('2 warm cells', () => first.d.warmCount() === 2, 20_000);
    await first.d.start(spec('r1c0'));
    const endpoint = await readyEndpoint(first.events, 'r1c0');
    await until('pool refilled', () => first.d.warmCount() === 2, 20_000);
    const idle = first.d.warmPids();
    await first.d.close(); // the agent goes; its cells (and idle warm cells) stay

    const second = driver();
    await second.d.adopt();
    expect(second.d.list()).toEqual([expect.objectContaining({ cell: 'r1c0', incarnation: 1, endpoint })]);
    await readyEndpoint(second.events, 'r1c0');
    await until('old idle cells stopped', () => idle.every((p) => !alive(p)), 10_000);
  });

  it('a duplicate start during an assignment runs one cell; a stop right behind it stops that cell', async () => {
    const { d, events } = driver();
    d.setWarmTarget(2);
    await until('2 warm cells', () => d.warmCount() === 2, 20_000);
    // Redelivered and re-sent starts arrive together; the agent runs commands concurrently.
    await Promise.all([d.start(spec('r2c0')), d.start(spec('r2c0')), d.start(spec('r2c0'))]);
    await readyEndpoint(events, 'r2c0');
    expect(d.pids()).toHaveLength(1);
    expect(events.filter((e) => e.cell === 'r2c0' && e.kind === 'started')).toHaveLength(1);
    const [pid] = d.pids();
    await Promise.all([d.start(spec('r2c1')), d.stop('w1', 'r2c1', 'changed our mind')]);
    expect(d.list().map((c) => c.cell)).toEqual(['r2c0']);
    expect(events.filter((e) => e.cell === 'r2c1').map((e) => e.kind)).toEqual(['started', 'exited']);
    expect(alive(pid!)).toBe(true);
  });

  it('a warm cell whose assignment died with its agent is killed and reported, not waited for', async () => {
    const first = driver();
    first.d.setWarmTarget(1);
    await until('a warm cell', () => first.d.warmCount() === 1, 20_000);
    const [pid] = first.d.warmPids();
    const warmEndpoint = (
      JSON.parse(
        readFileSync(
          join(
            stateDir,
            'warm',
            readdirSync(join(stateDir, 'warm')).find((n) => n.endsWith('.endpoint.json'))!,
          ),
          'utf8',
        ),
      ) as { endpoint: string }
    ).endpoint;
    await first.d.close();
    // What the agent wrote before it died: the cell record naming the warm cell, no assignment sent.
    writeFileSync(
      join(stateDir, 'cells', 'w1~r3c0~1.json'),
      JSON.stringify({
        world: 'w1',
        cell: 'r3c0',
        incarnation: 1,
        correlationId: 'c',
        pid,
        spawnedAt: new Date().toISOString(),
        warmEndpoint,
      }),
    );
    rmSync(join(stateDir, 'warm'), { recursive: true, force: true });
    const second = driver();
    await second.d.adopt();
    await until('reported exited', () => second.events.some((e) => e.kind === 'exited' && e.cell === 'r3c0'), 10_000);
    expect(second.events.find((e) => e.kind === 'exited')).toMatchObject({
      requested: false,
      reason: expect.stringMatching(/^AssignmentLost/),
    });
    expect(alive(pid!)).toBe(false);
  });

  it('a warm record whose pid now belongs to another process is not signalled', async () => {
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      mkdirSync(join(stateDir, 'warm'), { recursive: true });
      writeFileSync(join(stateDir, 'warm', 'old-1.json'), JSON.stringify({ pid: other.pid }));
      const { d } = driver();
      await d.adopt();
      expect(await reapCells(stateDir, 500)).toBe(0);
      expect(alive(other.pid!)).toBe(true);
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('stopAll and reapCells leave no warm process behind', async () => {
    const { d } = driver();
    d.setWarmTarget(2);
    await until('2 warm cells', () => d.warmCount() === 2, 20_000);
    const idle = d.warmPids();
    await d.close();
    expect(await reapCells(stateDir, 1000)).toBe(2);
    await until('reaped', () => idle.every((p) => !alive(p)), 10_000);
  });
});

describe('a warm cell process (FF_WARM=1)', () => {
  it('answers a bad assignment 400 naming the variable and stays warm; one good one makes it a cell', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-warm-cell-'));
    const file = join(dir, 'warm.endpoint.json');
    const child = spawn(process.execPath, [CELL_MAIN], {
      env: { ...process.env, FF_WARM: '1', FF_ENDPOINT_FILE: file },
      stdio: 'ignore',
    });
    try {
      await until('warm endpoint file', () => existsSync(file), 20_000);
      const warm = JSON.parse(readFileSync(file, 'utf8')) as { endpoint: string; warm: boolean; pid: number };
      expect(warm).toMatchObject({ warm: true, pid: child.pid });
      await expect(client.healthy(warm.endpoint, 1000)).resolves.toBe(true);

      await expect(client.assign(warm.endpoint, { FF_WORLD: 'w1' })).rejects.toThrow(/HTTP 400.*FF_CELL/);
      await expect(client.assign(warm.endpoint, { PATH: '/x' })).rejects.toThrow(/HTTP 400.*env\.PATH/);

      const cellFile = join(dir, 'cell.endpoint.json');
      const env = {
        FF_WORLD: 'w1',
        FF_CELL: 'r0c0',
        FF_INCARNATION: '3',
        FF_BOUNDARY: JSON.stringify({ x: 0, y: 0, width: 10, height: 10 }),
        FF_CAPACITY: JSON.stringify({ sessions: 10 }),
        FF_ENDPOINT_FILE: cellFile,
      };
      await client.assign(warm.endpoint, env);
      await until('cell endpoint file', () => existsSync(cellFile), 20_000);
      const cell = JSON.parse(readFileSync(cellFile, 'utf8')) as { endpoint: string };
      expect(await client.info(cell.endpoint)).toEqual({ world: 'w1', cell: 'r0c0', incarnation: 3, pid: child.pid });
      await expect(client.ready(cell.endpoint, 1000)).resolves.toBe(true);
      // Assigned once: the warm listener is closed, so a second assignment cannot reach it.
      await expect(client.assign(warm.endpoint, env, 1000)).rejects.toThrow();
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
