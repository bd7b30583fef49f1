import { HistogramSchema, LoadSampleSchema, ROUTING_EPOCH_HEADER } from '@fleetforge/shared';
import { CellRuntime, HIST_BINS } from './runtime';

describe('CellRuntime GET /v1/sample', () => {
  let cell: CellRuntime;
  let endpoint: string;

  beforeEach(async () => {
    cell = new CellRuntime({
      world: 'w',
      cell: 'r0c0',
      incarnation: 1,
      boundary: { x: 0, y: 0, width: 100, height: 100 },
      capacitySessions: 10,
    });
    endpoint = await cell.listen();
  });
  afterEach(() => cell.close());

  it('answers the load sample the IPC channel carries, sessions and histogram included', async () => {
    for (const [x, y] of [
      [1, 1],
      [99, 50],
    ]) {
      const r = await fetch(`${endpoint}/v1/sessions`, { method: 'POST', body: JSON.stringify({ x, y }) });
      expect(r.status).toBe(201);
    }
    const res = await fetch(`${endpoint}/v1/sample`);
    expect(res.status).toBe(200);
    const body = LoadSampleSchema.extend({ hist: HistogramSchema }).parse(await res.json());
    expect(body.sessions).toBe(2);
    expect(body.hist.x).toHaveLength(HIST_BINS);
    expect(body.hist.x[0]).toBe(1);
    expect(body.hist.x[HIST_BINS - 1]).toBe(1);
    expect(Object.keys(body).sort()).toEqual(Object.keys(await cell.sample()).sort());
  });
});

describe('CellRuntime redirects during a hand-off', () => {
  const cells: CellRuntime[] = [];
  const make = async (cell: string, boundary: { x: number; y: number; width: number; height: number }) => {
    const c = new CellRuntime({ world: 'w', cell, incarnation: 1, boundary, capacitySessions: 100, epoch: 3 });
    cells.push(c);
    return { c, endpoint: await c.listen() };
  };
  afterEach(async () => {
    await Promise.all(cells.splice(0).map((c) => c.close()));
  });
  const at = (epoch: number) => ({ 'content-type': 'application/json', [ROUTING_EPOCH_HEADER]: String(epoch) });

  it('sends a client with the old table to the new owner, at the new epoch, which accepts it', async () => {
    const parent = await make('r0c0', { x: 0, y: 0, width: 100, height: 100 });
    const left = await make('r0c0.0', { x: 0, y: 0, width: 50, height: 100 });
    const right = await make('r0c0.1', { x: 50, y: 0, width: 50, height: 100 });
    const join = await fetch(`${parent.endpoint}/v1/sessions`, {
      method: 'POST',
      headers: at(3),
      body: JSON.stringify({ id: 's1', x: 10, y: 10 }),
    });
    expect(join.status).toBe(201);
    const targets = [
      { cell: 'r0c0.0', boundary: { x: 0, y: 0, width: 50, height: 100 }, endpoint: left.endpoint },
      { cell: 'r0c0.1', boundary: { x: 50, y: 0, width: 50, height: 100 }, endpoint: right.endpoint },
    ];
    const handoff = await fetch(`${parent.endpoint}/v1/handoff`, {
      method: 'POST',
      body: JSON.stringify({ epoch: 4, targets }),
    });
    expect(handoff.status).toBe(200);

    // A session it handed off: Moved, with where and the epoch, though the request's epoch (3) is stale.
    const get = await fetch(`${parent.endpoint}/v1/sessions/s1`, { headers: at(3) });
    expect(get.status).toBe(409);
    const moved = ((await get.json()) as { error: { details: Record<string, unknown> } }).error.details;
    expect(moved).toEqual({ reason: 'Moved', movedTo: 'r0c0.0', endpoint: left.endpoint, epoch: 4 });
    const there = await fetch(`${left.endpoint}/v1/sessions/s1`, { headers: at(4) });
    expect(there.status).toBe(200);

    // A join in its old region: Draining, naming the target that owns the position.
    const late = await fetch(`${parent.endpoint}/v1/sessions`, {
      method: 'POST',
      headers: at(3),
      body: JSON.stringify({ id: 's2', x: 70, y: 10 }),
    });
    expect(late.status).toBe(503);
    const draining = ((await late.json()) as { error: { details: Record<string, unknown> } }).error.details;
    expect(draining).toEqual({ reason: 'Draining', movedTo: 'r0c0.1', endpoint: right.endpoint, epoch: 4 });
    const rejoin = await fetch(`${right.endpoint}/v1/sessions`, {
      method: 'POST',
      headers: at(4),
      body: JSON.stringify({ id: 's2', x: 70, y: 10 }),
    });
    expect(rejoin.status).toBe(201);

    // Nothing was stored in the parent after the hand-off, and an unknown session is still 404.
    expect((await parent.c.sample()).sessions).toBe(0);
    expect((await fetch(`${parent.endpoint}/v1/sessions/nope`, { headers: at(4) })).status).toBe(404);
  });

  it('closing after a hand-off lingers, still redirecting; a cell that handed nothing off closes at once', async () => {
    const parent = await make('r0c0', { x: 0, y: 0, width: 100, height: 100 });
    const child = await make('r0c0.0', { x: 0, y: 0, width: 100, height: 100 });
    const idle = await make('r1c0', { x: 0, y: 100, width: 100, height: 100 });
    await fetch(`${parent.endpoint}/v1/sessions`, {
      method: 'POST',
      headers: at(3),
      body: JSON.stringify({ id: 's1', x: 10, y: 10 }),
    });
    const targets = [{ cell: 'r0c0.0', boundary: { x: 0, y: 0, width: 100, height: 100 }, endpoint: child.endpoint }];
    expect(
      (await fetch(`${parent.endpoint}/v1/handoff`, { method: 'POST', body: JSON.stringify({ epoch: 4, targets }) }))
        .status,
    ).toBe(200);
    const closing = parent.c.close(500);
    // Stopping (SIGTERM) but lingering: the stale client is told where its session went.
    const get = await fetch(`${parent.endpoint}/v1/sessions/s1`, { headers: at(3) });
    expect(get.status).toBe(409);
    expect(((await get.json()) as { error: { details: { reason: string } } }).error.details.reason).toBe('Moved');
    // The idle cell has nothing to redirect: its port closes without waiting.
    await idle.c.close(60_000);
    await expect(fetch(`${idle.endpoint}/v1/sessions/x`)).rejects.toThrow();
    // Then it closes.
    await closing;
    await expect(fetch(`${parent.endpoint}/v1/sessions/s1`, { headers: at(4) })).rejects.toThrow();
  });
});
