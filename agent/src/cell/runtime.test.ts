import { HistogramSchema, LoadSampleSchema } from '@fleetforge/shared';
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
