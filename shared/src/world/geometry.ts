import { z } from 'zod';

/**
 * Exact integer geometry. A region is a half-open integer rectangle
 * [x, x+width) × [y, y+height) in world units, so children partition a parent with
 * no overlap and no gap by construction, and checks are exact (no float tolerance).
 */
export const RectSchema = z
  .object({
    x: z.number().int(),
    y: z.number().int(),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
  })
  .strict();
export type Rect = z.infer<typeof RectSchema>;

export type Axis = 'x' | 'y';

export function area(r: Rect): number {
  return r.width * r.height;
}

export function right(r: Rect): number {
  return r.x + r.width;
}

export function bottom(r: Rect): number {
  return r.y + r.height;
}

/** Whether the point lies in the region (left/top edges inclusive, right/bottom exclusive). */
export function containsPoint(r: Rect, px: number, py: number): boolean {
  return px >= r.x && px < right(r) && py >= r.y && py < bottom(r);
}

export function containsRect(outer: Rect, inner: Rect): boolean {
  return inner.x >= outer.x && inner.y >= outer.y && right(inner) <= right(outer) && bottom(inner) <= bottom(outer);
}

export function intersection(a: Rect, b: Rect): Rect | undefined {
  const x = Math.max(a.x, b.x);
  const y = Math.max(a.y, b.y);
  const w = Math.min(right(a), right(b)) - x;
  const h = Math.min(bottom(a), bottom(b)) - y;
  return w > 0 && h > 0 ? { x, y, width: w, height: h } : undefined;
}

export function overlaps(a: Rect, b: Rect): boolean {
  return intersection(a, b) !== undefined;
}

export function rectEquals(a: Rect, b: Rect): boolean {
  return a.x === b.x && a.y === b.y && a.width === b.width && a.height === b.height;
}

/** Two regions are adjacent when they do not overlap and share an edge segment of positive length. */
export function adjacent(a: Rect, b: Rect): boolean {
  if (overlaps(a, b)) return false;
  const shareVertical =
    (right(a) === b.x || right(b) === a.x) && Math.min(bottom(a), bottom(b)) - Math.max(a.y, b.y) > 0;
  const shareHorizontal =
    (bottom(a) === b.y || bottom(b) === a.y) && Math.min(right(a), right(b)) - Math.max(a.x, b.x) > 0;
  return shareVertical || shareHorizontal;
}

export function boundingBox(rects: readonly Rect[]): Rect | undefined {
  const [first, ...rest] = rects;
  if (!first) return undefined;
  let x0 = first.x;
  let y0 = first.y;
  let x1 = right(first);
  let y1 = bottom(first);
  for (const r of rest) {
    x0 = Math.min(x0, r.x);
    y0 = Math.min(y0, r.y);
    x1 = Math.max(x1, right(r));
    y1 = Math.max(y1, bottom(r));
  }
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/** What is wrong with a claimed partition of `parent`; empty when the parts tile it exactly. */
export function partitionProblems(parent: Rect, parts: readonly Rect[]): string[] {
  const problems: string[] = [];
  if (parts.length === 0) problems.push('no parts');
  parts.forEach((p, i) => {
    if (!containsRect(parent, p)) problems.push(`part ${i} lies outside the parent`);
  });
  for (let i = 0; i < parts.length; i++) {
    for (let j = i + 1; j < parts.length; j++) {
      // Indices are in range by construction of the loops.
      if (overlaps(parts[i]!, parts[j]!)) problems.push(`parts ${i} and ${j} overlap`);
    }
  }
  const covered = parts.reduce((sum, p) => sum + area(p), 0);
  // Inside the parent and pairwise disjoint, equal area means no gap.
  if (covered !== area(parent)) problems.push(`parts cover ${covered} of the parent's ${area(parent)} units`);
  return problems;
}

export function isPartition(parent: Rect, parts: readonly Rect[]): boolean {
  return partitionProblems(parent, parts).length === 0;
}

/** The region the parts tile exactly, or undefined when they do not tile a rectangle. */
export function union(parts: readonly Rect[]): Rect | undefined {
  const box = boundingBox(parts);
  return box && isPartition(box, parts) ? box : undefined;
}

/** Whether `bounds` can be cut into cols × rows equal integer cells. */
export function gridProblems(bounds: Rect, cols: number, rows: number): string[] {
  const problems: string[] = [];
  // `10 % 2.5` and `10 % -2` are 0 too: only positive whole counts make a grid.
  if (!Number.isInteger(cols) || cols < 1) return [`columns must be a positive integer, got ${cols}`];
  if (!Number.isInteger(rows) || rows < 1) return [`rows must be a positive integer, got ${rows}`];
  if (bounds.width % cols !== 0) problems.push(`width ${bounds.width} is not divisible by ${cols} columns`);
  if (bounds.height % rows !== 0) problems.push(`height ${bounds.height} is not divisible by ${rows} rows`);
  return problems;
}

export interface GridCell {
  row: number;
  col: number;
  boundary: Rect;
}

/** Cuts `bounds` into an exact cols × rows grid, row-major. Throws if the grid does not divide the bounds. */
export function grid(bounds: Rect, cols: number, rows: number): GridCell[] {
  const problems = gridProblems(bounds, cols, rows);
  if (problems.length > 0) throw new RangeError(problems.join('; '));
  const w = bounds.width / cols;
  const h = bounds.height / rows;
  const cells: GridCell[] = [];
  for (let row = 0; row < rows; row++) {
    for (let col = 0; col < cols; col++) {
      cells.push({ row, col, boundary: { x: bounds.x + col * w, y: bounds.y + row * h, width: w, height: h } });
    }
  }
  return cells;
}

/** Cuts `r` at an absolute coordinate along `axis`; undefined when the cut leaves a side narrower than `minSize`. */
export function splitAt(r: Rect, axis: Axis, at: number, minSize = 1): [Rect, Rect] | undefined {
  const start = axis === 'x' ? r.x : r.y;
  const size = axis === 'x' ? r.width : r.height;
  const first = at - start;
  const second = size - first;
  if (!Number.isInteger(at) || first < minSize || second < minSize) return undefined;
  return axis === 'x'
    ? [
        { x: r.x, y: r.y, width: first, height: r.height },
        { x: at, y: r.y, width: second, height: r.height },
      ]
    : [
        { x: r.x, y: r.y, width: r.width, height: first },
        { x: r.x, y: at, width: r.width, height: second },
      ];
}

/** The longer axis (x on a tie): halving it keeps cells closest to square. */
export function longerAxis(r: Rect): Axis {
  return r.width >= r.height ? 'x' : 'y';
}

/** Halves `r` across its longer axis (the first half gets the smaller share of an odd size). */
export function splitHalves(r: Rect, minSize = 1): [Rect, Rect] | undefined {
  const axis = longerAxis(r);
  const size = axis === 'x' ? r.width : r.height;
  const start = axis === 'x' ? r.x : r.y;
  return splitAt(r, axis, start + Math.floor(size / 2), minSize);
}

/** Quarters `r` (row-major: top-left, top-right, bottom-left, bottom-right). */
export function splitQuads(r: Rect, minSize = 1): [Rect, Rect, Rect, Rect] | undefined {
  const cols = splitAt(r, 'x', r.x + Math.floor(r.width / 2), minSize);
  if (!cols) return undefined;
  const left = splitAt(cols[0], 'y', r.y + Math.floor(r.height / 2), minSize);
  const rightHalf = splitAt(cols[1], 'y', r.y + Math.floor(r.height / 2), minSize);
  if (!left || !rightHalf) return undefined;
  return [left[0], rightHalf[0], left[1], rightHalf[1]];
}

export function formatRect(r: Rect): string {
  return `${r.x},${r.y} ${r.width}x${r.height}`;
}
