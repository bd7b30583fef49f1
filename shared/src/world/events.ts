import { z } from 'zod';
import { IsoTimeSchema } from './model';

/**
 * Lifecycle events (`events/{id}`), the documented stream (`docs/events.schema.json`).
 * Types are only ever added, never renamed.
 */
export const EventTypeSchema = z.enum([
  'WorldApplied',
  'WorldInitialized',
  'WorldDeleted',
  'CellCreated',
  'CellReady',
  'CellExited',
  'CellTerminated',
  'CellSplit',
  'CellMerge',
  'SplitRollback',
  'CellRecovered',
  'ConfigReload',
  'PoisonMessage',
  'ScalingBlocked',
  'OperationStarted',
  'TenantCreated',
  'TenantReady',
  'TenantFailed',
  'TenantDeleted',
  'UpgradeStarted',
  'UpgradeCompleted',
  'UpgradeFailed',
  'QuotaExceeded',
  'PoolAlert',
  'PoolAlertResolved',
  'FeatureDenied',
  'KubeconfigDelivered',
  'WorldDegraded',
  'WorldHealthy',
  'AgentRestarted',
  'BillingExported',
  'ExportTampered',
  'TenantLabelsFolded',
]);
export type EventType = z.infer<typeof EventTypeSchema>;

export const EventSeveritySchema = z.enum(['Normal', 'Warning']);

export const LifecycleEventSchema = z.strictObject({
  id: z.string().min(1),
  type: EventTypeSchema,
  severity: EventSeveritySchema.default('Normal'),
  time: IsoTimeSchema,
  world: z.string().nullable(),
  /** Tenant events name their tenant (tier and billing id go in `data`). */
  tenant: z.string().nullable().default(null),
  cells: z.array(z.string()).default([]),
  correlationId: z.string().min(1),
  reason: z.string().default(''),
  message: z.string().default(''),
  /** Who caused it: a token name (`token:admin`) or a component (`system:reconcileWorld`). */
  principal: z.string().min(1),
  data: z.record(z.string(), z.unknown()).default({}),
});
export type LifecycleEvent = z.infer<typeof LifecycleEventSchema>;
export type LifecycleEventInput = z.input<typeof LifecycleEventSchema>;

/** An event a planner decides on; the handler stamps id, time, world, principal and correlation id. */
export interface PlannedEvent {
  type: EventType;
  cells: string[];
  reason: string;
  message: string;
  severity?: 'Normal' | 'Warning';
  data?: Record<string, unknown>;
}

/** Events sort by id; time first keeps `since` queries and listings in order. */
export function eventId(time: string, suffix: string): string {
  return `${time.replace(/[-:.]/g, '')}-${suffix}`;
}
