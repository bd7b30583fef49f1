import {
  adjacent,
  formatRect,
  longerAxis,
  rectEquals,
  splitAt,
  splitHalves,
  splitQuads,
  union,
  type Axis,
  type Rect,
} from '../world/geometry';
import { historySince, type LoadHistory } from '../world/load-history';
import { isLiveCell, type CellDoc, type LoadSample } from '../world/model';
import { isActiveOperation, type OperationDoc } from './operations';
import type { MergeCheck, Scaling, ScalingDecision, ScalingInput, SplitCheck } from './scaling';

/**
 * The newest sample may be at most this old for a cell to count as hot: a cell whose
 * reports stopped is not judged. Generous, because the metrics path lags when the machine
 * is busy (5–25 s seen on 2 cores at 20,000 sessions), which is when splits matter.
 */
const HOT_FRESH_MS = 10_000;
/** The same for cold; a merge stops cells, so it is judged on recent samples only. */
const COLD_FRESH_MS = 5_000;
/** Slack for the sampling interval when checking that a sustain window is covered. */
const SLACK_MS = 1_000;
const RATE_WINDOW_MS = 60_000;

/**
 * How far back decisions look at ended operations (rate limits, cool-downs, rolled-back
 * splits), by when they ended: a pass needs the active operations and those that ended
 * within this, not a world's whole history.
 */
export function operationsLookbackMs(scaling: Pick<Scaling, 'cooldownSeconds'>): number {
  return Math.max(RATE_WINDOW_MS, scaling.cooldownSeconds * 1000) + 5 * SLACK_MS;
}

// ---------------------------------------------------------------- helpers

const ms = (iso: string): number => Date.parse(iso);

/** `12s`, `2.5s`: whole seconds unless a fraction matters. */
function secs(millis: number): string {
  return `${Number((millis / 1000).toFixed(1))}s`;
}

const byId = (a: { id: string }, b: { id: string }): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

const sum = (xs: readonly number[]): number => xs.reduce((s, x) => s + x, 0);

function involves(op: OperationDoc, ids: ReadonlySet<string>): boolean {
  return op.sources.some((s) => ids.has(s)) || op.targets.some((t) => ids.has(t.id));
}

/** The active operation holding any of `ids`, if one does. */
/**
 * An operation completes once its sessions are handed off; its sources stop after.
 * Until one has, its id cannot be started again (a merge restarting the parent, a
 * split re-creating a child): the new incarnation would race the old one's stop.
 */
function stillStopping(c: CellDoc): string {
  return `${c.id} (incarnation ${c.incarnation}) of an earlier operation is still stopping`;
}

function busyWith(ids: readonly string[], ops: readonly OperationDoc[]): OperationDoc | undefined {
  const set = new Set(ids);
  return ops.find((op) => isActiveOperation(op) && involves(op, set));
}

/**
 * When the cell was last created by a split or merge: cool-downs run from there.
 * A cell no operation made (an initial grid cell) has no cool-down, so a world
 * that is hot from the start can split at once.
 */
function bornAt(cell: CellDoc, ops: readonly OperationDoc[]): number | undefined {
  let born: number | undefined;
  for (const op of ops) {
    if (!op.targets.some((t) => t.id === cell.id)) continue;
    const t = ms(op.completedAt ?? op.updatedAt);
    if (born === undefined || t > born) born = t;
  }
  return born;
}

function cooldownProblem(
  cell: CellDoc,
  ops: readonly OperationDoc[],
  scaling: Scaling,
  now: number,
): string | undefined {
  const born = bornAt(cell, ops);
  if (born === undefined) return undefined;
  const age = now - born;
  if (age < scaling.cooldownSeconds * 1000) {
    return `cool-down: ${cell.id} created ${secs(age)} ago, cooldownSeconds ${scaling.cooldownSeconds}`;
  }
  return undefined;
}

// ---------------------------------------------------------------- splitChildren

interface Cut {
  axis: Axis;
  offset: number;
  size: number;
  imbalance: number;
}

/** The best bin-edge cut of `r` by the histogram, or undefined when no bin edge respects `minSize`. */
function loadAwareCut(r: Rect, hist: NonNullable<CellDoc['load']['hist']>, minSize: number): Cut | undefined {
  const longer = longerAxis(r);
  const candidates: Cut[] = [];
  for (const axis of ['x', 'y'] as const) {
    const bins = hist[axis];
    const total = sum(bins);
    if (bins.length < 2 || total === 0) continue;
    const size = axis === 'x' ? r.width : r.height;
    let left = 0;
    for (let k = 1; k < bins.length; k++) {
      left += bins[k - 1]!;
      const offset = Math.floor((k * size) / bins.length);
      if (offset < minSize || size - offset < minSize) continue;
      candidates.push({ axis, offset, size, imbalance: Math.abs(left - (total - left)) });
    }
  }
  const rank = (c: Cut) => [c.imbalance, c.axis === longer ? 0 : 1, Math.abs(2 * c.offset - c.size), c.offset];
  let best: Cut | undefined;
  for (const c of candidates) {
    if (!best) {
      best = c;
      continue;
    }
    const a = rank(c);
    const b = rank(best);
    const i = a.findIndex((v, j) => v !== b[j]);
    if (i >= 0 && a[i]! < b[i]!) best = c;
  }
  return best;
}

/**
 * The children of a split of `cell`, which partition its boundary exactly with every
 * side at least `minCellSize`, or undefined when no such cut exists.
 */
export function splitChildren(cell: CellDoc, scaling: Scaling): Rect[] | undefined {
  const children = cut(cell, scaling);
  // The cuts check the sides they make; a side the cut leaves alone may already be too short.
  const fits = children?.every((c) => Math.min(c.width, c.height) >= scaling.minCellSize);
  return fits ? children : undefined;
}

function cut(cell: CellDoc, scaling: Scaling): Rect[] | undefined {
  const r = cell.boundary;
  const min = scaling.minCellSize;
  switch (scaling.strategy) {
    case 'halves':
      return splitHalves(r, min);
    case 'quads':
      return splitQuads(r, min) ?? splitHalves(r, min);
    case 'load-aware': {
      const hist = cell.load.hist;
      const cut = hist ? loadAwareCut(r, hist, min) : undefined;
      // No histogram, no sessions in it, or no bin edge far enough from the sides: cut in the middle.
      if (!cut) return splitHalves(r, min);
      return splitAt(r, cut.axis, (cut.axis === 'x' ? r.x : r.y) + cut.offset, min);
    }
  }
}

// ---------------------------------------------------------------- checkSplit

/** Splits decided earlier in the same tick, which count like operations created now. */
interface TickState {
  /** Ids of the cells already chosen for a split in this tick. */
  splitCells: string[];
  /** Live cells added by those splits (children − 1 each). */
  addedCells: number;
  /** Children of those splits, each of which takes a warm cell while the pool has one. */
  children: number;
}

const emptyTick = (): TickState => ({ splitCells: [], addedCells: 0, children: 0 });

/**
 * A WarmCapacity block older than this belongs to an earlier episode (the cell cooled,
 * or another limit held it): the wait starts again. Matches how often a block is re-announced.
 */
const WARM_EPISODE_MS = 30_000;

/**
 * Whether a split of `cell` into `children` waits for warm cells: the pool cannot give
 * every child one, and the cell has waited less than `warm.waitMs` (then its children
 * start cold rather than leave a hot cell unsplit).
 */
function warmCapacityProblem(
  cell: CellDoc,
  children: number,
  warm: NonNullable<ScalingInput['warm']>,
  tick: TickState,
  now: number,
): string | undefined {
  const free = Math.max(0, warm.available - tick.children);
  if (children <= free) return undefined;
  const waited = cell.blocked?.why === 'WarmCapacity' ? now - ms(cell.blocked.at) : -1;
  if (waited >= warm.waitMs && waited < WARM_EPISODE_MS) return undefined;
  return `warm capacity: ${free} warm cells free, splitting ${cell.id} takes ${children}; waits up to ${secs(warm.waitMs)} for the pool to refill, then starts cold`;
}

function evaluateSplit(cell: CellDoc, input: ScalingInput, manual: boolean, tick: TickState): SplitCheck {
  const { scaling } = input;
  const now = input.now.getTime();
  const busy = busyWith([cell.id], input.operations);
  if (busy)
    return { ok: false, why: 'Busy', reason: `${cell.id} is in ${busy.kind} operation ${busy.id} (${busy.state})` };
  if (cell.state !== 'Ready') return { ok: false, why: 'NotReady', reason: `${cell.id} is ${cell.state}, not Ready` };

  const children = splitChildren(cell, scaling);
  if (!children) {
    return {
      ok: false,
      why: 'MinSize',
      reason: `min size: ${cell.id} is ${cell.boundary.width}x${cell.boundary.height}, no ${scaling.strategy} cut leaves every side ≥ minCellSize ${scaling.minCellSize}`,
    };
  }

  const ids = new Set(children.map((_, i) => `${cell.id}.${i}`));
  const draining = input.cells.find((c) => ids.has(c.id) && c.state === 'Draining');
  if (draining) return { ok: false, why: 'Busy', reason: stillStopping(draining) };

  const live = input.cells.filter(isLiveCell).length + tick.addedCells;
  const after = live - 1 + children.length;
  if (after > scaling.maxCells) {
    return {
      ok: false,
      why: 'MaxCells',
      reason: `max cells: ${live} live, splitting ${cell.id} into ${children.length} would make ${after}, maxCells ${scaling.maxCells}`,
    };
  }

  if (!manual) {
    const cooling = cooldownProblem(cell, input.operations, scaling, now);
    if (cooling) return { ok: false, why: 'Cooldown', reason: cooling };
    const cooldownMs = scaling.cooldownSeconds * 1000;
    const rolledBack = input.operations.find(
      (op) =>
        op.kind === 'split' &&
        op.state === 'RolledBack' &&
        op.sources.includes(cell.id) &&
        op.completedAt !== null &&
        now - ms(op.completedAt) < cooldownMs,
    );
    if (rolledBack) {
      return {
        ok: false,
        why: 'Cooldown',
        reason: `cool-down: split ${rolledBack.id} of ${cell.id} rolled back ${secs(now - ms(rolledBack.completedAt!))} ago, cooldownSeconds ${scaling.cooldownSeconds}`,
      };
    }

    const recentSplits = input.operations.filter(
      (op) => op.kind === 'split' && ms(op.createdAt) > now - RATE_WINDOW_MS,
    );
    const global = recentSplits.length + tick.splitCells.length;
    if (global >= scaling.splitsPerMinuteGlobal) {
      return {
        ok: false,
        why: 'RateLimitGlobal',
        reason: `rate limit: ${global} splits in the last 60s, splitsPerMinuteGlobal ${scaling.splitsPerMinuteGlobal}`,
      };
    }
    const running =
      input.operations.filter((op) => op.kind === 'split' && isActiveOperation(op)).length + tick.splitCells.length;
    if (running >= scaling.maxConcurrentSplits) {
      return {
        ok: false,
        why: 'ConcurrencyLimit',
        reason: `concurrency limit: ${running} splits running, maxConcurrentSplits ${scaling.maxConcurrentSplits}`,
      };
    }
    const family = new Set([cell.id, ...cell.lineage]);
    const own =
      recentSplits.filter((op) => family.has(op.sources[0]!)).length +
      tick.splitCells.filter((id) => family.has(id)).length;
    if (own >= scaling.splitsPerMinutePerCell) {
      return {
        ok: false,
        why: 'RateLimitCell',
        reason: `rate limit: ${own} splits of ${cell.id} or its ancestors in the last 60s, splitsPerMinutePerCell ${scaling.splitsPerMinutePerCell}`,
      };
    }
    const starved = input.warm && warmCapacityProblem(cell, children.length, input.warm, tick, now);
    if (starved) return { ok: false, why: 'WarmCapacity', reason: starved };
  }
  return { ok: true, children };
}

/**
 * Whether `cell` may be split now, and into what. A manual split bypasses the cool-down,
 * the rate limits, the concurrency limit and the warm-capacity wait, never MinSize,
 * MaxCells, Busy or NotReady.
 */
export function checkSplit(cell: CellDoc, input: ScalingInput, opts: { manual: boolean }): SplitCheck {
  return evaluateSplit(cell, input, opts.manual, emptyTick());
}

// ---------------------------------------------------------------- checkMerge

/** Whether the regions form one connected group by shared edges. */
export function rectsConnected(rects: readonly Rect[]): boolean {
  if (rects.length === 0) return false;
  const seen = new Set<number>([0]);
  const queue = [0];
  while (queue.length > 0) {
    const i = queue.pop()!;
    rects.forEach((r, j) => {
      if (!seen.has(j) && adjacent(rects[i]!, r)) {
        seen.add(j);
        queue.push(j);
      }
    });
  }
  return seen.size === rects.length;
}

/**
 * Whether `cellIds` may merge back into their parent now: they must be the complete
 * set of live siblings, tile the parent's region exactly and be Ready and idle. A manual
 * merge bypasses only the cool-down.
 */
export function checkMerge(cellIds: readonly string[], input: ScalingInput, opts: { manual: boolean }): MergeCheck {
  const notSiblings = (reason: string): MergeCheck => ({ ok: false, why: 'NotSiblings', reason });
  if (new Set(cellIds).size !== cellIds.length)
    return notSiblings(`cells listed more than once: ${cellIds.join(', ')}`);
  if (cellIds.length < 2) return notSiblings(`a merge needs at least 2 cells, got ${cellIds.length}`);
  const byIdMap = new Map(input.cells.map((c) => [c.id, c]));
  const unknown = cellIds.filter((id) => !byIdMap.has(id));
  if (unknown.length > 0) return notSiblings(`unknown cells: ${unknown.join(', ')}`);
  const cells = cellIds.map((id) => byIdMap.get(id)!);

  const parentId = cells[0]!.parent;
  if (parentId === null) return notSiblings(`${cells[0]!.id} has no parent`);
  const stranger = cells.find((c) => c.parent !== parentId);
  if (stranger) {
    return notSiblings(`${stranger.id} has parent ${stranger.parent ?? 'none'}, ${cells[0]!.id} has ${parentId}`);
  }
  const parent = byIdMap.get(parentId);
  if (!parent) return notSiblings(`parent ${parentId} is not a cell of this world`);
  const listed = new Set(cellIds);
  const siblings = input.cells.filter((c) => c.parent === parentId && isLiveCell(c)).map((c) => c.id);
  const missing = siblings.filter((id) => !listed.has(id));
  if (missing.length > 0) {
    return notSiblings(`not every live child of ${parentId}: missing ${missing.join(', ')}`);
  }
  const dead = cells.filter((c) => !isLiveCell(c));
  if (dead.length > 0) {
    return notSiblings(`not live children of ${parentId}: ${dead.map((c) => `${c.id} (${c.state})`).join(', ')}`);
  }

  const rects = cells.map((c) => c.boundary);
  const region = union(rects);
  if (!region || !rectEquals(region, parent.boundary)) {
    return {
      ok: false,
      why: 'NotParentRegion',
      reason: region
        ? `cells cover ${formatRect(region)}, parent ${parentId} is ${formatRect(parent.boundary)}`
        : `cells do not tile a rectangle (parent ${parentId} is ${formatRect(parent.boundary)})`,
    };
  }
  // A tiling of a rectangle is always edge-connected; kept as a guard should the order above change.
  if (!rectsConnected(rects))
    return { ok: false, why: 'NotAdjacent', reason: `cells ${cellIds.join(', ')} are not adjacent` };

  const busy = busyWith(cellIds, input.operations);
  if (busy)
    return {
      ok: false,
      why: 'Busy',
      reason: `${busy.kind} operation ${busy.id} (${busy.state}) holds one of the cells`,
    };
  if (parent.state === 'Draining') return { ok: false, why: 'Busy', reason: stillStopping(parent) };
  const notReady = cells.filter((c) => c.state !== 'Ready');
  if (notReady.length > 0) {
    return {
      ok: false,
      why: 'NotReady',
      reason: `not Ready: ${notReady.map((c) => `${c.id} (${c.state})`).join(', ')}`,
    };
  }
  if (!opts.manual) {
    const now = input.now.getTime();
    for (const c of cells) {
      const cooling = cooldownProblem(c, input.operations, input.scaling, now);
      if (cooling) return { ok: false, why: 'Cooldown', reason: cooling };
    }
  }
  return { ok: true, parent: parentId, boundary: parent.boundary };
}

// ---------------------------------------------------------------- decideScaling

/** What a sustain window must satisfy: every sample, and the folded history of older ones. */
interface WindowTest {
  kind: 'hot' | 'cold';
  sample: (s: LoadSample) => boolean;
  /** The same test on the extremes of every folded sample at or after `since`. */
  folded: (h: LoadHistory, since: number) => boolean;
}

/**
 * Whether every sample of the sustain window passes the test, with a fresh newest sample
 * and no gap at the start of the window. sustain 0: only the newest sample counts.
 * Hot: the window ends at the newest sample (at most HOT_FRESH_MS old), since samples
 * arrive seconds late under load and a window ending now would hold none, so a hot cell
 * would never split. Cold: it ends now, so late samples never merge cells: a split's
 * children report 0 sessions until the hand-off, and those samples may be all that has
 * arrived. A window reaching back past the kept samples is judged on the load history
 * for the older part (a merge after ten cold minutes).
 */
function sustained(cell: CellDoc, sustainSeconds: number, now: number, test: WindowTest): boolean {
  const samples = cell.load.window.map((s) => ({ s, t: ms(s.at) })).filter((x) => x.t <= now);
  if (samples.length === 0) return false;
  const newest = samples.reduce((a, b) => (b.t > a.t ? b : a));
  if (now - newest.t > (test.kind === 'hot' ? HOT_FRESH_MS : COLD_FRESH_MS)) return false;
  if (sustainSeconds === 0) return test.sample(newest.s);
  const start = (test.kind === 'hot' ? newest.t : now) - sustainSeconds * 1000;
  const inWindow = samples.filter((x) => x.t > start);
  if (inWindow.length === 0 || !inWindow.every((x) => test.sample(x.s))) return false;
  const oldest = Math.min(...samples.filter((x) => x.t >= start - SLACK_MS).map((x) => x.t));
  if (oldest <= start + SLACK_MS) return true;
  const h = cell.load.history;
  return h !== null && h.from <= start + SLACK_MS && test.folded(h, start - SLACK_MS);
}

/** Passes when the folded extreme exists and passes `ok`. */
function foldedPasses(value: number | undefined, ok: (v: number) => boolean): boolean {
  return value !== undefined && ok(value);
}

function hotTest(splitSessions: number, cpuLimit: number | undefined): WindowTest {
  const bySessions = (v: number) => v > splitSessions;
  const byCpu = (v: number) => cpuLimit !== undefined && v > cpuLimit;
  return {
    kind: 'hot',
    sample: (s) => bySessions(s.sessions) || byCpu(s.cpuMillis),
    // Every older sample hot: their least sessions (or least CPU) over the limit. Stricter
    // than per sample when hot by sessions at times and by CPU at others; never looser.
    folded: (h, since) =>
      foldedPasses(historySince(h.minSessions, since), bySessions) ||
      foldedPasses(historySince(h.minCpuMillis, since), byCpu),
  };
}

function coldTest(mergeSessions: number): WindowTest {
  const ok = (v: number) => v < mergeSessions;
  return {
    kind: 'cold',
    sample: (s) => ok(s.sessions),
    folded: (h, since) => foldedPasses(historySince(h.maxSessions, since), ok),
  };
}

function newestSample(cell: CellDoc, now: number): LoadSample | undefined {
  let best: LoadSample | undefined;
  for (const s of cell.load.window) {
    if (ms(s.at) <= now && (!best || ms(s.at) > ms(best.at))) best = s;
  }
  return best;
}

function hotReason(cell: CellDoc, input: ScalingInput, now: number): string {
  const { scaling, capacity } = input;
  const cpuLimit = scaling.splitCpuRatio * capacity.cpuMillis;
  const latest = newestSample(cell, now)!;
  const bySessions = sustained(cell, scaling.splitSustainSeconds, now, hotTest(scaling.splitSessions, undefined));
  if (bySessions) {
    return `sessions above ${scaling.splitSessions} for ${scaling.splitSustainSeconds}s (latest ${latest.sessions})`;
  }
  return `cpu above ${cpuLimit}m (${scaling.splitCpuRatio} of ${capacity.cpuMillis}m) or sessions above ${scaling.splitSessions} for ${scaling.splitSustainSeconds}s (latest ${latest.cpuMillis}m, ${latest.sessions} sessions)`;
}

/**
 * This tick's scaling decisions: splits of cells hot for `splitSustainSeconds`, merges
 * of complete sibling sets cold for `mergeSustainSeconds`, and the attempts a limit
 * blocked. Hot cells are taken by their latest session count, highest first (ties by id).
 * At most one decision per cell; deterministic for a given input.
 */
export function decideScaling(input: ScalingInput): ScalingDecision[] {
  const { scaling, capacity } = input;
  const now = input.now.getTime();
  const cpuLimit = scaling.splitCpuRatio * capacity.cpuMillis;
  const isHot = hotTest(scaling.splitSessions, cpuLimit);
  const isCold = coldTest(scaling.mergeSessions);

  const decisions: ScalingDecision[] = [];
  const decided = new Set<string>();
  const tick = emptyTick();
  const cells = [...input.cells].sort(byId);
  // Hottest first, so the splits a limit lets through relieve the most load.
  const hot = cells
    .filter((c) => c.state === 'Ready' && sustained(c, scaling.splitSustainSeconds, now, isHot))
    .map((c) => ({ c, sessions: newestSample(c, now)?.sessions ?? 0 }))
    .sort((a, b) => b.sessions - a.sessions)
    .map((x) => x.c);

  for (const cell of hot) {
    const check = evaluateSplit(cell, input, false, tick);
    if (check.ok) {
      decisions.push({ kind: 'split', cell: cell.id, children: check.children, reason: hotReason(cell, input, now) });
      tick.splitCells.push(cell.id);
      tick.addedCells += check.children.length - 1;
      tick.children += check.children.length;
      decided.add(cell.id);
    } else if (check.why !== 'Busy' && check.why !== 'NotReady') {
      decisions.push({ kind: 'blocked', action: 'split', cells: [cell.id], why: check.why, reason: check.reason });
      decided.add(cell.id);
    }
  }

  const groups = new Map<string, CellDoc[]>();
  for (const cell of cells) {
    if (cell.parent === null || !isLiveCell(cell)) continue;
    const group = groups.get(cell.parent) ?? [];
    group.push(cell);
    groups.set(cell.parent, group);
  }
  const mergeCap = Math.floor(scaling.splitSessions / 2);
  for (const [parent, group] of [...groups].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (group.length < 2 || group.some((c) => decided.has(c.id))) continue;
    if (!group.every((c) => c.state === 'Ready' && sustained(c, scaling.mergeSustainSeconds, now, isCold))) continue;
    const combined = sum(group.map((c) => newestSample(c, now)!.sessions));
    if (combined > mergeCap) continue;
    const ids = group.map((c) => c.id);
    const check = checkMerge(ids, input, { manual: false });
    if (check.ok) {
      decisions.push({
        kind: 'merge',
        cells: ids,
        parent: check.parent,
        boundary: check.boundary,
        reason: `all ${ids.length} children of ${parent} below ${scaling.mergeSessions} sessions for ${scaling.mergeSustainSeconds}s (combined ${combined} ≤ ${mergeCap})`,
      });
    } else if (check.why === 'Cooldown') {
      decisions.push({ kind: 'blocked', action: 'merge', cells: ids, why: check.why, reason: check.reason });
    } else {
      continue; // Not a mergeable set: nothing to report.
    }
    ids.forEach((id) => decided.add(id));
  }
  return decisions;
}
