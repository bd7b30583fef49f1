import type { Rect } from '../world/geometry';
import type { CellDoc } from '../world/model';
import type { OperationDoc } from './operations';
import type { WorldSpec } from '../world/world';

/**
 * The elasticity policy, pure: from the effective scaling config, the cells with
 * their load windows, the operations (active and recent) and the time, decide
 * which cells to split and which siblings to merge, and which attempts are
 * blocked and why. Like Agones' fleet autoscaler it returns decisions and
 * reasons; it executes nothing.
 */

export type Scaling = WorldSpec['scaling'];

export type BlockReason =
  'Cooldown' | 'RateLimitGlobal' | 'RateLimitCell' | 'ConcurrencyLimit' | 'WarmCapacity' | 'MinSize' | 'MaxCells';

export type ScalingDecision =
  | { kind: 'split'; cell: string; children: Rect[]; reason: string }
  | { kind: 'merge'; cells: string[]; parent: string; boundary: Rect; reason: string }
  | { kind: 'blocked'; action: 'split' | 'merge'; cells: string[]; why: BlockReason; reason: string };

export interface ScalingInput {
  scaling: Scaling;
  /** Per-cell capacity (for the CPU ratio). */
  capacity: WorldSpec['capacity'];
  /** Every cell doc of the world, Terminated ones included (merges need the parent's boundary). */
  cells: readonly CellDoc[];
  /** Active operations and those finished in the last few minutes. */
  operations: readonly OperationDoc[];
  now: Date;
  /**
   * The warm pool the world's new cells draw from, when the agent keeps one: automatic
   * splits wait (up to `waitMs`) until it can give every child a warm cell, since a cold
   * start on a busy machine is what makes a split slow and miss its readiness deadline.
   * Absent: no wait.
   */
  warm?: { available: number; waitMs: number };
}

export type SplitCheck =
  { ok: true; children: Rect[] } | { ok: false; why: BlockReason | 'NotReady' | 'Busy'; reason: string };
export type MergeCheck =
  | { ok: true; parent: string; boundary: Rect }
  | {
      ok: false;
      why: 'NotSiblings' | 'NotAdjacent' | 'NotParentRegion' | 'NotReady' | 'Busy' | 'Cooldown';
      reason: string;
    };

export { decideScaling, checkSplit, checkMerge, splitChildren, operationsLookbackMs } from './engine';
