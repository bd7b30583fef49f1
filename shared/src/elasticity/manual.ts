import { FleetError } from '../core/errors';
import { parseOrThrow } from '../core/validation';
import type { PlannedEvent } from '../world/events';
import type { WorldDoc } from '../world/model';
import { ScalingOverridesSchema, type ScalingOverrides } from '../world/world';
import { beginMerge, beginSplit, type BeginOptions, type OpContext } from './operations-plan';
import type { OperationDoc } from './operations';
import { checkMerge, checkSplit, type ScalingInput } from './scaling';
import { effectiveScaling } from './tick';

/**
 * Manual operations (`ffctl cell split|merge`) and live scaling config: the same checks
 * and the same operation planner the reconciler uses, so a manual split is an ordinary
 * operation from its first step; only the refusals differ (409 with the reason).
 */

/** Starts a manual split of `cellId` in `c` (the working copy the handler writes), or refuses. */
export function beginManualSplit(c: OpContext, input: ScalingInput, cellId: string, opts: BeginOptions): OperationDoc {
  const cell = input.cells.find((x) => x.id === cellId);
  if (!cell) throw new FleetError('NOT_FOUND', `cell ${cellId} not found in world ${c.world.name}`);
  const check = checkSplit(cell, input, { manual: true });
  if (!check.ok) {
    throw new FleetError('CONFLICT', `cannot split ${cell.id}: ${check.reason}`, { details: { why: check.why } });
  }
  return beginSplit(c, cell.id, check.children, opts);
}

/** Starts a manual merge of sibling `cells` back into their parent, or refuses. */
export function beginManualMerge(c: OpContext, input: ScalingInput, cells: string[], opts: BeginOptions): OperationDoc {
  const check = checkMerge(cells, input, { manual: true });
  if (!check.ok) {
    throw new FleetError('CONFLICT', `cannot merge ${cells.join(', ')}: ${check.reason}`, {
      details: { why: check.why },
    });
  }
  return beginMerge(c, cells, check.parent, opts);
}

/** `PATCH /v1/config/scaling`: keys to set and keys to drop back to each world's spec. */
export interface ScalingConfigPatch {
  set: Record<string, unknown>;
  unset: string[];
}

export interface ScalingConfigPlan {
  overrides: ScalingOverrides;
  /** `scaling.<key>` for every key whose value changed, sorted; empty: nothing to write. */
  changedKeys: string[];
  /** The config's version: one more than before when something changed. */
  version: number;
  /** A `ConfigReload` event when something changed. */
  event: PlannedEvent | null;
}

/**
 * Live scaling thresholds: validated key by key (400 naming `scaling.<key>`) and against
 * every world, because a merge threshold must stay below the split threshold it would be
 * combined with, or cells would flap between split and merge.
 */
export function planScalingConfig(
  current: ScalingOverrides,
  patch: ScalingConfigPatch,
  worlds: readonly WorldDoc[],
  currentVersion: number,
): ScalingConfigPlan {
  const next: Record<string, unknown> = { ...current, ...patch.set };
  for (const k of patch.unset) delete next[k];
  const overrides = parseOrThrow(ScalingOverridesSchema, next, 'scaling overrides', 'scaling');
  for (const w of worlds) {
    const eff = effectiveScaling(w, overrides);
    if (eff.mergeSessions >= eff.splitSessions) {
      throw new FleetError(
        'INVALID_ARGUMENT',
        `world ${w.name}: mergeSessions ${eff.mergeSessions} must stay below splitSessions ${eff.splitSessions}`,
        {
          issues: [
            {
              path: 'scaling.mergeSessions',
              message: `must be below splitSessions (${eff.splitSessions}) in world ${w.name}`,
            },
          ],
        },
      );
    }
  }
  const before = current as Record<string, unknown>;
  const after = overrides as Record<string, unknown>;
  const changedKeys = Object.keys({ ...before, ...after })
    .filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]))
    .sort()
    .map((k) => `scaling.${k}`);
  const version = currentVersion + (changedKeys.length > 0 ? 1 : 0);
  return {
    overrides,
    changedKeys,
    version,
    event:
      changedKeys.length === 0
        ? null
        : {
            type: 'ConfigReload',
            cells: [],
            reason: 'ConfigChanged',
            message: `scaling keys changed: ${changedKeys.join(', ')}`,
            data: { changedKeys, version },
          },
  };
}
