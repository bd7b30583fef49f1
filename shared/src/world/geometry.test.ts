import fc from 'fast-check';
import {
  adjacent,
  area,
  containsPoint,
  grid,
  gridProblems,
  isPartition,
  partitionProblems,
  splitAt,
  splitHalves,
  splitQuads,
  union,
  type Axis,
  type Rect,
} from './geometry';

const rect = (x: number, y: number, width: number, height: number): Rect => ({ x, y, width, height });

/** Integer rects anywhere (negative origins included), sides 1..10_000. */
const rectArb = fc.record({
  x: fc.integer({ min: -1_000_000, max: 1_000_000 }),
  y: fc.integer({ min: -1_000_000, max: 1_000_000 }),
  width: fc.integer({ min: 1, max: 10_000 }),
  height: fc.integer({ min: 1, max: 10_000 }),
});

/** A rect plus a point inside it. */
const rectWithPointArb = rectArb.chain((r) =>
  fc.tuple(
    fc.constant(r),
    fc.integer({ min: r.x, max: r.x + r.width - 1 }),
    fc.integer({ min: r.y, max: r.y + r.height - 1 }),
  ),
);

const totalArea = (parts: readonly Rect[]) => parts.reduce((sum, p) => sum + area(p), 0);

describe('containsPoint', () => {
  const r = rect(0, 0, 10, 5);
  const neg = rect(-10, -10, 10, 10);
  it.each([
    ['top-left corner (inclusive)', r, 0, 0, true],
    ['interior', r, 5, 2, true],
    ['last unit before bottom-right', r, 9, 4, true],
    ['right edge (exclusive)', r, 10, 0, false],
    ['bottom edge (exclusive)', r, 0, 5, false],
    ['bottom-right corner', r, 10, 5, false],
    ['left of the region', r, -1, 0, false],
    ['negative origin, top-left', neg, -10, -10, true],
    ['negative origin, last unit', neg, -1, -1, true],
    ['negative origin, right/bottom edge', neg, 0, 0, false],
  ])('%s', (_name, region, px, py, expected) => {
    expect(containsPoint(region, px, py)).toBe(expected);
  });
});

describe('adjacent', () => {
  const a = rect(0, 0, 10, 10);
  it.each([
    ['shares the whole right edge', rect(10, 0, 10, 10), true],
    ['shares part of the right edge', rect(10, 5, 10, 10), true],
    ['shares one unit of the right edge', rect(10, -5, 5, 6), true],
    ['shares the bottom edge', rect(0, 10, 10, 10), true],
    ['shares the left edge (negative side)', rect(-3, 2, 3, 3), true],
    ['touches only the bottom-right corner', rect(10, 10, 5, 5), false],
    ['touches only the top-right corner', rect(10, -5, 5, 5), false],
    ['overlaps', rect(5, 5, 10, 10), false],
    ['is contained', rect(2, 2, 2, 2), false],
    ['is separated by a gap', rect(11, 0, 5, 10), false],
  ])('%s → %s (both argument orders)', (_name, b, expected) => {
    expect(adjacent(a, b)).toBe(expected);
    expect(adjacent(b, a)).toBe(expected);
  });
});

describe('union', () => {
  const parent = rect(-4, 2, 8, 6);
  const [tl, tr, bl, br] = splitQuads(parent)!;
  it.each<[string, Rect[], Rect | undefined]>([
    ['no parts', [], undefined],
    ['a single part is itself', [parent], parent],
    ['two halves', splitHalves(parent)!, parent],
    ['four quads in any order', [br, tl, bl, tr], parent],
    ['an L shape (three quads)', [tl, tr, bl], undefined],
    ['parts with a gap', [rect(0, 0, 4, 4), rect(5, 0, 4, 4)], undefined],
    ['overlapping parts', [rect(0, 0, 5, 4), rect(4, 0, 5, 4)], undefined],
    ['a duplicated part', [tl, tl, tr, bl, br], undefined],
  ])('%s', (_name, parts, expected) => {
    expect(union(parts)).toEqual(expected);
  });
});

describe('partitionProblems', () => {
  const parent = rect(0, 0, 10, 10);
  it.each<[string, Rect[], string[]]>([
    ['exact halves', [rect(0, 0, 5, 10), rect(5, 0, 5, 10)], []],
    ['the parent itself', [parent], []],
    ['no parts', [], ['no parts', "parts cover 0 of the parent's 100 units"]],
    [
      'a part sticking out',
      [rect(0, 0, 5, 10), rect(5, 0, 6, 10)],
      ['part 1 lies outside the parent', "parts cover 110 of the parent's 100 units"],
    ],
    [
      'overlapping parts',
      [rect(0, 0, 6, 10), rect(5, 0, 5, 10)],
      ['parts 0 and 1 overlap', "parts cover 110 of the parent's 100 units"],
    ],
    ['a gap', [rect(0, 0, 4, 10), rect(5, 0, 5, 10)], ["parts cover 90 of the parent's 100 units"]],
  ])('%s', (_name, parts, expected) => {
    expect(partitionProblems(parent, parts)).toEqual(expected);
    expect(isPartition(parent, parts)).toBe(expected.length === 0);
  });
});

describe('gridProblems / grid', () => {
  const bounds = rect(-50, 10, 100, 60);
  it.each<[number, number, string[]]>([
    [4, 3, []],
    [1, 1, []],
    [100, 60, []],
    [3, 3, ['width 100 is not divisible by 3 columns']],
    [4, 7, ['height 60 is not divisible by 7 rows']],
    [3, 7, ['width 100 is not divisible by 3 columns', 'height 60 is not divisible by 7 rows']],
  ])('%i cols × %i rows', (cols, rows, expected) => {
    expect(gridProblems(bounds, cols, rows)).toEqual(expected);
    if (expected.length > 0) expect(() => grid(bounds, cols, rows)).toThrow(RangeError);
    else expect(grid(bounds, cols, rows)).toHaveLength(cols * rows);
  });

  // grid() promises an exact partition or a throw; counts that are not positive
  // integers must not slip through gridProblems.
  it.each([
    [2.5, 1],
    [-2, 1],
    [1, 0],
  ])('rejects a grid of %p cols × %p rows', (cols, rows) => {
    expect(gridProblems(rect(0, 0, 10, 10), cols, rows)).not.toEqual([]);
    expect(() => grid(rect(0, 0, 10, 10), cols, rows)).toThrow(RangeError);
  });
});

describe('splitAt', () => {
  const r = rect(-10, 0, 20, 8);
  it.each<[string, Axis, number, number, [Rect, Rect] | undefined]>([
    ['x in the middle', 'x', 0, 1, [rect(-10, 0, 10, 8), rect(0, 0, 10, 8)]],
    ['y off-centre', 'y', 3, 1, [rect(-10, 0, 20, 3), rect(-10, 3, 20, 5)]],
    ['x leaving exactly minSize on the left', 'x', -6, 4, [rect(-10, 0, 4, 8), rect(-6, 0, 16, 8)]],
    ['x leaving less than minSize on the left', 'x', -7, 4, undefined],
    ['x leaving less than minSize on the right', 'x', 7, 4, undefined],
    ['at the left edge (empty side)', 'x', -10, 1, undefined],
    ['outside the rect', 'y', 20, 1, undefined],
    ['at a fractional coordinate', 'x', 0.5, 1, undefined],
    ['with minSize above half the side', 'y', 4, 5, undefined],
  ])('%s', (_name, axis, at, minSize, expected) => {
    expect(splitAt(r, axis, at, minSize)).toEqual(expected);
  });

  it('never leaves a side below minSize, and cuts exactly when both sides fit', () => {
    fc.assert(
      fc.property(
        rectArb,
        fc.constantFrom<Axis>('x', 'y'),
        fc.integer({ min: -20, max: 10_020 }),
        fc.integer({ min: 1, max: 64 }),
        (r, axis, offset, minSize) => {
          const start = axis === 'x' ? r.x : r.y;
          const size = axis === 'x' ? r.width : r.height;
          const parts = splitAt(r, axis, start + offset, minSize);
          const fits = offset >= minSize && size - offset >= minSize;
          expect(parts !== undefined).toBe(fits);
          if (!parts) return;
          const cutSides = parts.map((p) => (axis === 'x' ? p.width : p.height));
          expect(Math.min(...cutSides)).toBeGreaterThanOrEqual(minSize);
          expect(isPartition(r, parts)).toBe(true);
          expect(adjacent(parts[0], parts[1])).toBe(true);
        },
      ),
    );
  });
});

describe('splitHalves / splitQuads', () => {
  it.each<[string, Rect, number, [Rect, Rect] | undefined]>([
    ['cuts the longer (x) side', rect(0, 0, 10, 4), 1, [rect(0, 0, 5, 4), rect(5, 0, 5, 4)]],
    ['cuts the longer (y) side', rect(0, 0, 4, 10), 1, [rect(0, 0, 4, 5), rect(0, 5, 4, 5)]],
    ['cuts x on a tie', rect(-2, -2, 4, 4), 1, [rect(-2, -2, 2, 4), rect(0, -2, 2, 4)]],
    [
      'gives the first half the smaller share of an odd side',
      rect(0, 0, 7, 1),
      1,
      [rect(0, 0, 3, 1), rect(3, 0, 4, 1)],
    ],
    ['refuses a unit square', rect(0, 0, 1, 1), 1, undefined],
    ['refuses when a half would be below minSize', rect(0, 0, 31, 31), 16, undefined],
    ['accepts halves of exactly minSize', rect(0, 0, 32, 20), 16, [rect(0, 0, 16, 20), rect(16, 0, 16, 20)]],
  ])('splitHalves %s', (_name, r, minSize, expected) => {
    expect(splitHalves(r, minSize)).toEqual(expected);
  });

  it.each<[string, Rect, number, Rect[] | undefined]>([
    [
      'quarters row-major',
      rect(-4, -4, 8, 8),
      1,
      [rect(-4, -4, 4, 4), rect(0, -4, 4, 4), rect(-4, 0, 4, 4), rect(0, 0, 4, 4)],
    ],
    [
      'odd sides put the extra unit right and bottom',
      rect(0, 0, 3, 5),
      1,
      [rect(0, 0, 1, 2), rect(1, 0, 2, 2), rect(0, 2, 1, 3), rect(1, 2, 2, 3)],
    ],
    ['refuses a one-unit-wide strip', rect(0, 0, 1, 100), 1, undefined],
    ['refuses when a quarter would be below minSize', rect(0, 0, 64, 30), 16, undefined],
  ])('splitQuads %s', (_name, r, minSize, expected) => {
    expect(splitQuads(r, minSize)).toEqual(expected);
  });
});

describe('partition properties', () => {
  it('grid(bounds, cols, rows) partitions bounds exactly whenever the counts divide the sides', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -1_000_000, max: 1_000_000 }),
        fc.integer({ min: -1_000_000, max: 1_000_000 }),
        fc.integer({ min: 1, max: 16 }),
        fc.integer({ min: 1, max: 16 }),
        fc.integer({ min: 1, max: 600 }),
        fc.integer({ min: 1, max: 600 }),
        (x, y, cols, rows, cellW, cellH) => {
          const bounds = rect(x, y, cols * cellW, rows * cellH);
          expect(gridProblems(bounds, cols, rows)).toEqual([]);
          const cells = grid(bounds, cols, rows);
          expect(cells.map((c) => [c.row, c.col])).toEqual(
            Array.from({ length: rows * cols }, (_, i) => [Math.floor(i / cols), i % cols]),
          );
          const parts = cells.map((c) => c.boundary);
          expect(partitionProblems(bounds, parts)).toEqual([]);
          expect(union(parts)).toEqual(bounds);
        },
      ),
      { numRuns: 60 },
    );
  });

  const splitters: [string, (r: Rect, minSize?: number) => Rect[] | undefined][] = [
    ['splitHalves', splitHalves],
    ['splitQuads', splitQuads],
  ];

  it.each(splitters)(
    '%s partitions the parent, unions back to it, conserves area and puts each point in exactly one child',
    (_name, split) => {
      fc.assert(
        fc.property(rectWithPointArb, ([r, px, py]) => {
          const parts = split(r);
          fc.pre(parts !== undefined);
          expect(partitionProblems(r, parts)).toEqual([]);
          expect(union(parts)).toEqual(r);
          expect(totalArea(parts)).toBe(area(r));
          expect(parts.filter((p) => containsPoint(p, px, py))).toHaveLength(1);
        }),
      );
    },
  );

  it('splitHalves refuses exactly when a half would be below minSize, and its halves are adjacent', () => {
    fc.assert(
      fc.property(rectArb, fc.integer({ min: 1, max: 64 }), (r, minSize) => {
        const halves = splitHalves(r, minSize);
        expect(halves !== undefined).toBe(Math.floor(Math.max(r.width, r.height) / 2) >= minSize);
        if (halves) expect(adjacent(halves[0], halves[1])).toBe(true);
      }),
    );
  });

  it('splitQuads refuses exactly when a quarter would be below minSize; edge neighbours are adjacent, diagonals are not', () => {
    fc.assert(
      fc.property(rectArb, fc.integer({ min: 1, max: 64 }), (r, minSize) => {
        const quads = splitQuads(r, minSize);
        expect(quads !== undefined).toBe(Math.min(Math.floor(r.width / 2), Math.floor(r.height / 2)) >= minSize);
        if (!quads) return;
        const [tl, tr, bl, br] = quads;
        const adjacency = [adjacent(tl, tr), adjacent(bl, br), adjacent(tl, bl), adjacent(tr, br)];
        expect(adjacency).toEqual([true, true, true, true]);
        expect([adjacent(tl, br), adjacent(tr, bl)]).toEqual([false, false]);
        for (const q of quads) expect(Math.min(q.width, q.height)).toBeGreaterThanOrEqual(minSize);
      }),
    );
  });
});
