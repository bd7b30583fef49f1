import { z } from 'zod';
import {
  CellViewSchema,
  LifecycleEventSchema,
  WorldViewSchema,
  isPartition,
  pollUntil,
  type Rect,
} from '@fleetforge/shared';
import { pidAlive, startHarness, type Harness } from './harness';

const Events = z.array(LifecycleEventSchema);

/**
 * The foundation story as a user runs it: apply a world with ffctl, wait for it,
 * see real cell processes answer, read the events, delete it, and see every
 * process gone. Also the bad-input and auth paths.
 */
describe('world lifecycle on the running stack', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  }, 120_000);
  afterAll(async () => {
    await h?.stack.stop();
  }, 60_000);

  it('apply → ready → cells answer /readyz → events → delete → processes gone', async () => {
    const apply = await h.ffctl(['world', 'apply', '-f', 'examples/worldspec-basic.yaml']);
    expect(apply.stderr).toBe('');
    expect(apply.stdout).toContain('world/world-a created');

    const again = await h.ffctl(['world', 'apply', '-f', 'examples/worldspec-basic.yaml']);
    expect(again.stdout).toContain('world/world-a unchanged');

    const wait = await h.ffctl(['world', 'wait', 'world-a', '--ready', '--timeout', '30s']);
    expect(wait).toMatchObject({ code: 0 });

    const world = WorldViewSchema.parse(JSON.parse((await h.ffctl(['world', 'get', 'world-a', '-o', 'json'])).stdout));
    expect(world.status).toMatchObject({ phase: 'Ready', ready: true, cellsActive: 4, routingEpoch: 1 });

    const cells = z.array(CellViewSchema).parse(JSON.parse((await h.ffctl(['cells', 'world-a', '-o', 'json'])).stdout));
    expect(cells.map((c) => c.id).sort()).toEqual(['r0c0', 'r0c1', 'r1c0', 'r1c1']);
    expect(
      isPartition(
        world.spec.topology.bounds,
        cells.map((c) => c.boundary),
      ),
    ).toBe(true);
    const pids: number[] = [];
    for (const c of cells) {
      expect(c.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await fetch(`${c.endpoint}/readyz`)).status).toBe(200);
      const info = (await (await fetch(`${c.endpoint}/v1/info`)).json()) as {
        cell: string;
        pid: number;
        boundary: Rect;
      };
      expect(info.cell).toBe(c.id);
      expect(info.boundary).toEqual(c.boundary);
      pids.push(info.pid);
      expect(pidAlive(info.pid)).toBe(true);
    }
    // A session outside the cell's region is refused with 409; inside it joins.
    const c0 = cells.find((c) => c.id === 'r0c0')!;
    const outside = await fetch(`${c0.endpoint}/v1/sessions`, {
      method: 'POST',
      body: JSON.stringify({ x: 900, y: 900 }),
    });
    expect(outside.status).toBe(409);
    const inside = await fetch(`${c0.endpoint}/v1/sessions`, {
      method: 'POST',
      body: JSON.stringify({ id: 'p1', x: 10, y: 10 }),
    });
    expect(inside.status).toBe(201);

    const events = {
      items: Events.parse(JSON.parse((await h.ffctl(['events', '--world', 'world-a', '-o', 'json'])).stdout)),
    };
    const types = events.items.map((e) => e.type);
    expect(types.filter((t) => t === 'CellCreated')).toHaveLength(4);
    expect(types.filter((t) => t === 'WorldInitialized')).toHaveLength(1);
    const init = events.items.find((e) => e.type === 'WorldInitialized')!;
    expect(init.correlationId).toBe(world.correlationId);
    expect(events.items.every((e) => e.correlationId.length > 0 && e.world === 'world-a')).toBe(true);

    const byCorrelation = Events.parse(
      JSON.parse((await h.ffctl(['events', '--correlation', world.correlationId, '-o', 'json'])).stdout),
    );
    expect(byCorrelation.length).toBeGreaterThanOrEqual(9);

    // The load sample of the joined session reaches the control plane.
    const sessions = await pollUntil(
      async () => {
        const now = z
          .array(CellViewSchema)
          .parse(JSON.parse((await h.ffctl(['cells', 'world-a', '-o', 'json'])).stdout));
        return now.find((c) => c.id === 'r0c0')?.sessions;
      },
      (n) => n === 1,
      { timeoutMs: 10_000, intervalMs: 250 },
    );
    expect(sessions).toBe(1);

    const del = await h.ffctl(['world', 'delete', 'world-a', '--wait', '--timeout', '30s']);
    expect(del).toMatchObject({ code: 0 });
    const gone = await h.ffctl(['world', 'get', 'world-a']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('NOT_FOUND');
    for (const pid of pids) expect(pidAlive(pid)).toBe(false);
  }, 120_000);

  it('rejects a bad manifest with the zod path of each field, and writes nothing', async () => {
    const r = await h.ffctl(['world', 'apply', '-f', 'scripts/src/e2e/fixtures/bad-world.yaml']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('INVALID_ARGUMENT (HTTP 400)');
    expect(r.stderr).toContain('spec.topology.grid: width 1000 is not divisible by 3 columns');
    expect(r.stderr).toContain('spec.capacity.sessions');
    expect(r.stderr).toContain('spec.colour');
    const get = await h.ffctl(['world', 'get', 'bad-world']);
    expect(get.stderr).toContain('NOT_FOUND');
  }, 60_000);

  it('answers 401 without a valid token and 403 for a role without the permission', async () => {
    const anon = await h.ffctl(['world', 'list'], { token: 'ff_not-a-real-token' });
    expect(anon.code).toBe(1);
    expect(anon.stderr).toContain('UNAUTHENTICATED (HTTP 401)');
    const created = await h.ffctl(['token', 'create', 'watcher', '--role', 'observer', '-o', 'json']);
    const token = (JSON.parse(created.stdout) as { token: string }).token;
    expect((await h.ffctl(['world', 'list'], { token })).code).toBe(0);
    const denied = await h.ffctl(['world', 'apply', '-f', 'examples/worldspec-basic.yaml'], { token });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('PERMISSION_DENIED (HTTP 403)');
    expect((await h.ffctl(['whoami'], { token })).stdout).toContain('watcher (observer)');
  }, 60_000);
});
