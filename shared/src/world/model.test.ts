import fc from 'fast-check';
import { LOAD_WINDOW_SIZE, LoadDocSchema, packLoadDoc, type LoadDoc } from './model';

const base = {
  cell: 'r0c0',
  incarnation: 2,
  sessions: 5,
  cpuMillis: 12.5,
  memoryMiB: 70.1,
  hist: null,
  history: null,
  lastReportAt: '2026-12-01T10:00:02.000Z',
};

describe('load documents are stored packed', () => {
  it('packs and reads back any window exactly', () => {
    const sample = fc.record({
      at: fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2040, 0, 1) }).map((t) => new Date(t).toISOString()),
      sessions: fc.nat(100_000),
      cpuMillis: fc.double({ min: 0, max: 1e6, noNaN: true }).map(Math.abs),
      memoryMiB: fc.double({ min: 0, max: 1e6, noNaN: true }).map(Math.abs),
    });
    fc.assert(
      fc.property(fc.array(sample, { maxLength: LOAD_WINDOW_SIZE }), (window) => {
        const doc: LoadDoc = { ...base, window };
        const stored = packLoadDoc(doc);
        expect(stored).not.toHaveProperty('window');
        expect(LoadDocSchema.parse(JSON.parse(JSON.stringify(stored)))).toEqual(doc);
      }),
    );
  });

  const table: Array<{ name: string; data: unknown; ok: boolean }> = [
    {
      name: 'a document written before packing (window of samples) still parses',
      data: { ...base, window: [{ at: '2026-12-01T10:00:01.000Z', sessions: 1, cpuMillis: 2, memoryMiB: 3 }] },
      ok: true,
    },
    {
      name: 'packed arrays of different lengths are refused',
      data: { ...base, packed: { at: [1, 2], sessions: [1], cpuMillis: [1, 2], memoryMiB: [1, 2] } },
      ok: false,
    },
    {
      name: 'a window longer than LOAD_WINDOW_SIZE is refused',
      data: {
        ...base,
        packed: Object.fromEntries(
          ['at', 'sessions', 'cpuMillis', 'memoryMiB'].map((k) => [k, Array(LOAD_WINDOW_SIZE + 1).fill(1)]),
        ),
      },
      ok: false,
    },
    {
      name: 'both shapes at once are refused',
      data: { ...base, window: [], packed: { at: [], sessions: [], cpuMillis: [], memoryMiB: [] } },
      ok: false,
    },
  ];
  it.each(table)('$name', ({ data, ok }) => {
    expect(LoadDocSchema.safeParse(data).success).toBe(ok);
  });
});
