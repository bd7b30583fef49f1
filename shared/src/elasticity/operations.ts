import { z } from 'zod';
import { RectSchema } from '../world/geometry';
import { IsoTimeSchema } from '../world/model';
import { NameSchema } from '../world/world';

/**
 * Split and merge operations (`worlds/{world}/operations/{op}`): a state machine the
 * reconciler advances level-by-level from what the cells report. Every step is
 * idempotent; a crash at any point resumes from the stored state.
 *
 * split: Planned → ChildrenStarting → ChildrenReady → HandingOff → Draining → Completed
 *                                   ↘ RollingBack → RolledBack (children never became Ready)
 * merge: the same states; "children" are the one merged target cell, "sources" the siblings.
 */
export const OperationKindSchema = z.enum(['split', 'merge']);
export type OperationKind = z.infer<typeof OperationKindSchema>;

export const OperationStateSchema = z.enum([
  'Planned',
  'ChildrenStarting',
  'ChildrenReady',
  'HandingOff',
  'Draining',
  'Completed',
  'RollingBack',
  'RolledBack',
]);
export type OperationState = z.infer<typeof OperationStateSchema>;

export const OperationCauseSchema = z.enum(['Threshold', 'ManualOverride']);
export type OperationCause = z.infer<typeof OperationCauseSchema>;

export const OperationTargetSchema = z.strictObject({
  id: z.string().min(1),
  boundary: RectSchema,
  incarnation: z.number().int().positive(),
});
export type OperationTarget = z.infer<typeof OperationTargetSchema>;

export const OperationDocSchema = z.strictObject({
  id: z.string().min(1),
  world: NameSchema,
  kind: OperationKindSchema,
  state: OperationStateSchema,
  cause: OperationCauseSchema,
  reason: z.string(),
  /** split: [parent]; merge: the siblings. */
  sources: z.array(z.string()).min(1),
  /** split: the children; merge: [the parent, restarted with its next incarnation]. */
  targets: z.array(OperationTargetSchema).min(1),
  /** The routing epoch the hand-off published. */
  routingEpoch: z.number().int().nullable().default(null),
  sessionsBefore: z.number().int().nonnegative().nullable().default(null),
  sessionsMoved: z.number().int().nonnegative().nullable().default(null),
  /** Sessions each source reported handed over (a merge has several sources). */
  handoffs: z.record(z.string(), z.number().int().nonnegative()).default({}),
  /** Test switch (manual splits only): the new cells never become ready, so the split rolls back. */
  testNeverReady: z.boolean().default(false),
  /** Children (or the merged cell) must be Ready by then, else roll back. */
  readyDeadline: IsoTimeSchema,
  /** Hand-off and drain must finish by then, else the sentinel re-drives the step. */
  stepDeadline: IsoTimeSchema.nullable().default(null),
  /** When each state was entered. */
  steps: z.record(z.string(), IsoTimeSchema).default({}),
  principal: z.string(),
  correlationId: z.string(),
  error: z.string().nullable().default(null),
  createdAt: IsoTimeSchema,
  updatedAt: IsoTimeSchema,
  completedAt: IsoTimeSchema.nullable().default(null),
});
export type OperationDoc = z.infer<typeof OperationDocSchema>;

export function isActiveOperation(op: Pick<OperationDoc, 'state'>): boolean {
  return op.state !== 'Completed' && op.state !== 'RolledBack';
}

/**
 * Seconds since the oldest still-active operation was created (0 with none): what
 * the stuck-operation alert watches. A later copy of an operation (same id) wins.
 */
export function oldestActiveOperationSeconds(
  operations: ReadonlyArray<Pick<OperationDoc, 'id' | 'state' | 'createdAt'>>,
  now: Date,
): number {
  const latest = new Map(operations.map((o) => [o.id, o]));
  const ages = [...latest.values()]
    .filter(isActiveOperation)
    .map((o) => (now.getTime() - Date.parse(o.createdAt)) / 1000);
  return Math.max(0, ...ages);
}
