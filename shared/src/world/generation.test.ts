import { compareGenerations, knownGeneration } from './generation';

describe('world generations', () => {
  const A = '2026-12-01T10:00:00.000Z';
  const B = '2026-12-01T10:00:05.000Z';
  const table: Array<{ name: string; running: string | null | undefined; wanted: string | undefined; want: number }> = [
    { name: 'the same generation', running: A, wanted: A, want: 0 },
    { name: 'a running cell of an earlier world of that name', running: A, wanted: B, want: -1 },
    { name: 'a late start of a world deleted since', running: B, wanted: A, want: 1 },
    { name: 'a running cell from before generations', running: null, wanted: B, want: 0 },
    { name: 'a start without a generation', running: A, wanted: undefined, want: 0 },
    { name: "the '0' a command without one defaults to", running: A, wanted: '0', want: 0 },
  ];
  it.each(table)('$name: $want', ({ running, wanted, want }) => {
    expect(compareGenerations(running, wanted)).toBe(want);
  });

  it("knownGeneration keeps a real one and turns '0' and absence into null", () => {
    expect([knownGeneration(A), knownGeneration('0'), knownGeneration(undefined)]).toEqual([A, null, null]);
  });
});
