import { CellRuntime } from '@fleetforge/agent';
import {
  MemorySessionStore,
  containsPoint,
  sleep,
  type Rect,
  type RoutingTable,
  type Session,
} from '@fleetforge/shared';
import { formatSummary } from './format';
import {
  loadSessionId,
  parseLoadSessionId,
  rampTarget,
  runLoad,
  sessionPosition,
  summaryOk,
  type LoadIo,
  type LoadOptions,
  type LoadSummary,
} from './generator';
import { Prng, mixSeed } from './prng';

const WORLD = 'load-test';
const BOUNDS: Rect = { x: 0, y: 0, width: 1000, height: 1000 };

interface TestCell {
  id: string;
  boundary: Rect;
  store: MemorySessionStore;
  runtime: CellRuntime;
  endpoint: string;
}

/** Real cells in-process plus a routing table the test controls. */
class TestWorld {
  readonly cells = new Map<string, TestCell>();
  table: RoutingTable = { world: WORLD, epoch: 1, bounds: BOUNDS, cells: [] };
  /** Served once by the next routing() call, before `table` (a lagging control plane). */
  lagging: RoutingTable | undefined;
  routingCalls = 0;
  /** While set, served instead of `table` (a stalled control plane), counting the calls. */
  stalled: RoutingTable | undefined;
  callsWhileStalled = 0;
  readonly lines: string[] = [];

  async start(id: string, boundary: Rect, epoch = 1, reuse?: TestCell): Promise<TestCell> {
    const store = reuse?.store ?? new MemorySessionStore();
    const port = reuse ? Number(new URL(reuse.endpoint).port) : undefined;
    const runtime = new CellRuntime({
      world: WORLD,
      cell: id,
      incarnation: 1,
      boundary,
      capacitySessions: 10_000,
      epoch,
      store,
      port,
    });
    const endpoint = await runtime.listen();
    const cell = { id, boundary, store, runtime, endpoint };
    this.cells.set(id, cell);
    return cell;
  }

  route(epoch: number, ids: string[]): void {
    this.table = {
      world: WORLD,
      epoch,
      bounds: BOUNDS,
      cells: ids.map((id) => {
        const c = this.cells.get(id)!;
        return { id, boundary: c.boundary, endpoint: c.endpoint };
      }),
    };
  }

  io(fetchImpl?: typeof fetch): LoadIo {
    return {
      routing: async () => {
        this.routingCalls++;
        if (this.stalled) {
          this.callsWhileStalled++;
          return structuredClone(this.stalled);
        }
        const t = this.lagging ?? this.table;
        this.lagging = undefined;
        return structuredClone(t);
      },
      fetch: fetchImpl,
      log: (line) => this.lines.push(line),
    };
  }

  /** Every session of the routed cells, by id, read straight from the stores. */
  async sessions(): Promise<Map<string, Session & { cell: string }>> {
    const out = new Map<string, Session & { cell: string }>();
    for (const c of this.table.cells) {
      for (const s of await this.cells.get(c.id)!.store.list()) {
        expect(out.has(s.id)).toBe(false);
        out.set(s.id, { ...s, cell: c.id });
      }
    }
    return out;
  }

  async close(): Promise<void> {
    await Promise.all([...this.cells.values()].map((c) => c.runtime.close()));
  }
}

/**
 * A fetch that, at the first session write matching `when`, waits for the requests
 * in flight to finish, runs `action` (restart cells, hand off, switch routing), and
 * only then lets that request and everything queued behind it go on, so they all
 * carry the old routing epoch.
 */
function interruptingFetch(
  when: (writes: number, url: string) => boolean,
  action: () => Promise<void>,
): typeof fetch & { fired: boolean } {
  let writes = 0;
  let inflight = 0;
  let gate: Promise<void> | undefined;
  const f = (async (input: string | URL | Request, init?: RequestInit) => {
    if (gate) await gate;
    const url = input instanceof Request ? input.url : String(input);
    const write = init?.method === 'POST' || init?.method === 'DELETE';
    if (write && !f.fired && when(++writes, url)) {
      f.fired = true;
      let open!: () => void;
      gate = new Promise<void>((r) => (open = r));
      while (inflight > 0) await sleep(1);
      await action();
      gate = undefined;
      open();
    }
    inflight++;
    try {
      return await fetch(input, init);
    } finally {
      inflight--;
    }
  }) as typeof fetch & { fired: boolean };
  f.fired = false;
  return f;
}

function base(over: Partial<LoadOptions>): LoadOptions {
  return { world: WORLD, sessions: 100, rampMs: 400, tickMs: 50, seed: 42, settleMs: 1000, ...over };
}

function expectOk(s: LoadSummary, w: TestWorld): void {
  if (!summaryOk(s)) throw new Error(`load run not ok:\n${formatSummary(s)}\n${w.lines.join('\n')}`);
}

function ids(n: number): string[] {
  return Array.from({ length: n }, (_, i) => loadSessionId(i)).sort();
}

describe('prng and positions', () => {
  it('is deterministic for a seed and spreads values', () => {
    const a = new Prng(7);
    const b = new Prng(7);
    const xs = Array.from({ length: 1000 }, () => a.next());
    expect(Array.from({ length: 1000 }, () => b.next())).toEqual(xs);
    expect(new Prng(8).next()).not.toBe(xs[0]);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.05);
    const r = new Prng(1);
    const ints = Array.from({ length: 500 }, () => r.int(6));
    expect(new Set(ints)).toEqual(new Set([0, 1, 2, 3, 4, 5]));
    const ns = Array.from({ length: 2000 }, () => r.normal());
    const nm = ns.reduce((s, x) => s + x, 0) / ns.length;
    const sd = Math.sqrt(ns.reduce((s, x) => s + (x - nm) ** 2, 0) / ns.length);
    expect(Math.abs(nm)).toBeLessThan(0.1);
    expect(Math.abs(sd - 1)).toBeLessThan(0.1);
    expect(mixSeed(1, 2)).not.toBe(mixSeed(2, 1));
  });

  it('places session i as a pure function of (seed, i), in bounds', () => {
    const hot = { x: 990, y: 10, r: 100 };
    for (let i = 0; i < 200; i++) {
      const p = sessionPosition(3, i, BOUNDS, hot);
      expect(sessionPosition(3, i, BOUNDS, hot)).toEqual(p);
      expect(Number.isInteger(p.x) && Number.isInteger(p.y)).toBe(true);
      expect(containsPoint(BOUNDS, p.x, p.y)).toBe(true);
      const u = sessionPosition(3, i, BOUNDS);
      expect(containsPoint(BOUNDS, u.x, u.y)).toBe(true);
    }
    expect(sessionPosition(3, 0, BOUNDS)).not.toEqual(sessionPosition(4, 0, BOUNDS));
    expect(parseLoadSessionId('load-17')).toBe(17);
    expect(parseLoadSessionId('load-x')).toBeUndefined();
    expect([1, 2, 3, 4].map((k) => rampTarget(10, 0, k, 4))).toEqual([8, 5, 3, 0]);
  });
});

describe('runLoad against real cells', () => {
  // Real HTTP round trips by the hundred: on a loaded 2-core machine they take longer than Jest's 5 s default.
  jest.setTimeout(60_000);
  let world: TestWorld;
  beforeEach(() => {
    world = new TestWorld();
  });
  afterEach(async () => {
    await world.close();
  });

  async function grid2x2(): Promise<void> {
    for (const [id, x, y] of [
      ['c00', 0, 0],
      ['c10', 500, 0],
      ['c01', 0, 500],
      ['c11', 500, 500],
    ] as const) {
      await world.start(id, { x, y, width: 500, height: 500 });
    }
    world.route(1, ['c00', 'c10', 'c01', 'c11']);
  }

  /** A parent routed at epoch 1, its two halves started at epoch 2, and the parent's hand-off to them. */
  async function parentAndHalves() {
    const parent = await world.start('parent', BOUNDS, 1);
    const halves = [
      await world.start('left', { x: 0, y: 0, width: 500, height: 1000 }, 2),
      await world.start('right', { x: 500, y: 0, width: 500, height: 1000 }, 2),
    ];
    world.route(1, ['parent']);
    const handOff = () =>
      fetch(`${parent.endpoint}/v1/handoff`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          epoch: 2,
          targets: halves.map((c) => ({ cell: c.id, boundary: c.boundary, endpoint: c.endpoint })),
        }),
      });
    return { parent, handOff };
  }

  async function westEast(epoch = 1): Promise<void> {
    await world.start('west', { x: 0, y: 0, width: 500, height: 1000 }, epoch);
    await world.start('east', { x: 500, y: 0, width: 500, height: 1000 }, epoch);
    world.route(epoch, ['west', 'east']);
  }

  it('ramps up to N around a hotspot, deterministically, and back down to 0', async () => {
    await grid2x2();
    const opts = base({ sessions: 200, hotspot: { x: 250, y: 250, r: 200 } });

    const up = await runLoad(opts, world.io());
    expectOk(up, world);
    expect(up).toMatchObject({ target: 200, present: 200, missing: 0, joined: 200, left: 0 });
    expect(up.moved).toBeGreaterThan(0);
    expect(up.perCell.c00).toBeGreaterThan(160);
    for (const c of ['c10', 'c01', 'c11']) expect(up.perCell[c]).toBeLessThan(up.perCell.c00! / 4);
    const first = await world.sessions();
    expect([...first.keys()].sort()).toEqual(ids(200));
    expect(formatSummary(up)).toMatch(/c00[\s\S]*OK/);
    // No fault: every join and move answered at once, each timed as an uninterrupted request.
    expect(up.disconnectMs.count).toBe(0);
    expect(up.requestMs.count).toBe(up.joined + up.moved);
    expect(up.requestMs.p95).toBeGreaterThanOrEqual(up.requestMs.p50);
    expect(formatSummary(up)).toMatch(new RegExp(`requests \\(not re-routed\\)\\s+n=${up.joined + up.moved} p50`));

    const down = await runLoad(base({ sessions: 0, seed: 99, rampMs: 200 }), world.io());
    expectOk(down, world);
    expect(down).toMatchObject({ target: 0, present: 0, left: 200, joined: 0 });
    expect((await world.sessions()).size).toBe(0);

    const again = await runLoad(opts, world.io());
    expectOk(again, world);
    expect(again.perCell).toEqual(up.perCell);
    expect(again.moved).toBe(up.moved);
    const second = await world.sessions();
    for (const [id, s] of first)
      expect([second.get(id)?.x, second.get(id)?.y, second.get(id)?.cell]).toEqual([s.x, s.y, s.cell]);
  });

  it('ramps from what it finds: a smaller target leaves the highest indices', async () => {
    await westEast();
    expectOk(await runLoad(base({ sessions: 60, rampMs: 0 }), world.io()), world);
    const s = await runLoad(base({ sessions: 25, rampMs: 200, moveFraction: 0 }), world.io());
    expectOk(s, world);
    expect(s).toMatchObject({ joined: 0, left: 35, present: 25 });
    expect([...(await world.sessions()).keys()].sort()).toEqual(ids(25));
  });

  it('hands sessions over client side when moves cross a border, keeping ids and the count', async () => {
    await westEast();
    const hot = { x: 500, y: 500, r: 40 };
    expectOk(await runLoad(base({ sessions: 100, rampMs: 0, moveFraction: 0, hotspot: hot }), world.io()), world);
    const before = await world.sessions();

    const s = await runLoad(base({ sessions: 100, rampMs: 500, moveFraction: 0.5, hotspot: hot }), world.io());
    expectOk(s, world);
    expect(s).toMatchObject({ joined: 0, left: 0, present: 100, duplicates: 0, rejoinedAfterLoss: 0 });
    expect(s.moved).toBe(500);
    expect(s.handovers).toBeGreaterThan(10);
    const after = await world.sessions();
    expect([...after.keys()].sort()).toEqual(ids(100));
    let crossed = 0;
    for (const [id, a] of after) {
      expect(a.state).toEqual({ source: 'ffctl-load', index: parseLoadSessionId(id) });
      expect(containsPoint(world.cells.get(a.cell)!.boundary, a.x, a.y)).toBe(true);
      if (a.cell !== before.get(id)!.cell) crossed++;
    }
    expect(crossed).toBeGreaterThan(0);
  });

  it('re-routes on a routing epoch bump (cells restarted at a higher epoch) without losing a session', async () => {
    await westEast(1);
    const f = interruptingFetch(
      // Write 47 is the first join of tick 5 (10 joins a tick, plus 0, 1, 2, 3 moves): the rest of
      // that tick queues behind the restart and goes out with the old epoch.
      (writes, url) => writes >= 47 && url.endsWith('/v1/sessions'),
      async () => {
        const old = [...world.cells.values()];
        await Promise.all(old.map((c) => c.runtime.close()));
        for (const c of old) await world.start(c.id, c.boundary, 2, c);
        world.route(2, ['west', 'east']);
      },
    );
    const s = await runLoad(base({ sessions: 120, rampMs: 600, moveFraction: 0.1 }), world.io(f));
    expect(f.fired).toBe(true);
    expectOk(s, world);
    expect(s.reroutes.StaleEpoch).toBeGreaterThan(5);
    expect(s).toMatchObject({ rejoinedAfterLoss: 0, present: 120, missing: 0 });
    expect(s.disconnectMs.count).toBeGreaterThan(0);
    expect(s.disconnectMs.max).toBeLessThan(2000);
    expect([...(await world.sessions()).keys()].sort()).toEqual(ids(120));
  });

  it('finds sessions again after a cell-side hand-off to two children', async () => {
    const { parent, handOff } = await parentAndHalves();
    let handedOff: unknown;
    const f = interruptingFetch(
      (writes, url) => writes >= 50 && url.endsWith('/move'),
      async () => {
        const res = await handOff();
        handedOff = await res.json();
        // The control plane's first answer still lists the parent (at the new epoch), then catches up.
        world.lagging = { ...structuredClone(world.table), epoch: 2 };
        world.route(2, ['left', 'right']);
      },
    );
    const s = await runLoad(
      base({ sessions: 100, rampMs: 600, moveFraction: 0.2, hotspot: { x: 500, y: 500, r: 300 } }),
      world.io(f),
    );
    expect(f.fired).toBe(true);
    expect(handedOff).toMatchObject({ remaining: 0 });
    expectOk(s, world);
    expect((s.reroutes.Moved ?? 0) + (s.reroutes.StaleEpoch ?? 0)).toBeGreaterThan(0);
    expect(s.reroutes.Moved).toBeGreaterThan(0);
    expect(s).toMatchObject({ rejoinedAfterLoss: 0, present: 100, missing: 0, duplicates: 0 });
    expect(Object.keys(s.perCell).sort()).toEqual(['left', 'right']);
    expect(await parent.store.count()).toBe(0);
    expect([...(await world.sessions()).keys()].sort()).toEqual(ids(100));
  });

  it('follows the cells’ redirects after a hand-off without waiting for the routing table', async () => {
    const { parent, handOff } = await parentAndHalves();
    let stalledFor = 0;
    const f = interruptingFetch(
      (writes) => writes >= 40,
      async () => {
        const res = await handOff();
        expect(res.status).toBe(200);
        // The control plane stalls: for a while it still routes everything to the parent.
        world.stalled = structuredClone(world.table);
        world.route(2, ['left', 'right']);
        const t0 = performance.now();
        setTimeout(() => {
          stalledFor = performance.now() - t0;
          world.stalled = undefined;
        }, 400);
      },
    );
    // The stall ends well before the ramp does (at least 18 ticks of 50 ms remain after write 40):
    // listing a cell's sessions at the end cannot be redirected, and rightly waits for the table.
    const s = await runLoad(base({ sessions: 100, rampMs: 1500, moveFraction: 0.2 }), world.io(f));
    expect(f.fired).toBe(true);
    expect(stalledFor).toBeGreaterThan(0);
    expectOk(s, world);
    // Joins were sent on by the draining parent and moved sessions found through it:
    // not one request had to wait for the table while it was stale.
    expect(s.reroutes.Draining).toBeGreaterThan(0);
    expect(s.reroutes.Moved).toBeGreaterThan(0);
    expect(world.callsWhileStalled).toBe(0);
    expect(s).toMatchObject({ failures: 0, present: 100, missing: 0, duplicates: 0 });
    expect(await parent.store.count()).toBe(0);
    expect([...(await world.sessions()).keys()].sort()).toEqual(ids(100));
  });

  it('rides out a cell that is unreachable for a while (connection refused, backoff)', async () => {
    await westEast(1);
    let restarted: Promise<unknown> | undefined;
    const f = interruptingFetch(
      (writes) => writes === 25,
      async () => {
        const west = world.cells.get('west')!;
        await west.runtime.close();
        restarted = sleep(300).then(() => world.start('west', west.boundary, 1, west));
      },
    );
    const s = await runLoad(base({ sessions: 60, rampMs: 300 }), world.io(f));
    await restarted;
    expectOk(s, world);
    expect(s.reroutes.Unreachable).toBeGreaterThan(0);
    expect(s.disconnectMs.max).toBeGreaterThanOrEqual(200);
    expect(s).toMatchObject({ rejoinedAfterLoss: 0, present: 60 });
  });

  it('counts sessions a crashed cell lost and joins them again on their next move', async () => {
    await westEast(1);
    let lost = 0;
    const f = interruptingFetch(
      (writes) => writes === 45,
      async () => {
        // West crashes and comes back empty on the same port.
        const west = world.cells.get('west')!;
        lost = await west.store.count();
        await west.runtime.close();
        await world.start('west', west.boundary, 1, { ...west, store: new MemorySessionStore() });
      },
    );
    const s = await runLoad(base({ sessions: 40, rampMs: 300, moveFraction: 1 }), world.io(f));
    expect(f.fired).toBe(true);
    expect(lost).toBeGreaterThan(0);
    expectOk(s, world);
    expect(s.rejoinedAfterLoss).toBeGreaterThan(0);
    expect(s.reroutes.NotFound).toBeGreaterThan(0);
    expect([...(await world.sessions()).keys()].sort()).toEqual(ids(40));
  });
});
