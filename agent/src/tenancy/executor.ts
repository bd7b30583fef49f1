import type { TenantCommand, TenantObservation, TenantObservationSchema, Tier } from '@fleetforge/shared';
import type { z } from 'zod';

/** A progress observation as the executor states it; the tenant agent adds the generation and defaults. */
export type ProgressInput = Omit<
  Extract<z.input<typeof TenantObservationSchema>, { kind: 'progress' }>,
  'kind' | 'generation'
>;

/** Where an executor states its progress (the last report is terminal). */
export type Report = (p: ProgressInput) => Promise<void>;

/** What the latest sample saw of one tenant namespace: what the usage meter bills from. */
export interface ObservedNamespace {
  tenant: string;
  /** From the namespace's `fleetforge.dev/tier` label (a dev tenant's namespace stays dev during an upgrade). */
  tier: Tier;
  namespace: string;
  /** When it was sampled (epoch ms). */
  at: number;
  /** Pods not finished, and the sum of their requests. */
  pods: number;
  cpuRequestMillis: number;
  memoryRequestMiB: number;
  /**
   * Standard tier: its vcluster as the probe found it, and since when it has answered
   * healthy without a break (the first healthy probe of the current run; null while not
   * healthy). Null for other tiers, or one not provisioned yet.
   */
  vcluster: { server: string; healthy: boolean; healthySince: number | null } | null;
}

export interface TenantExecutor {
  /** Converges the tenant to the command; `report` hears progress (the last report is terminal). */
  execute(cmd: TenantCommand, report: Report): Promise<void>;
  /** Pool and usage samples, and quota warnings, as they are observed. */
  watch(listener: (tenant: string, obs: TenantObservation) => void): void;
  /** Every tenant namespace as the latest sample saw it (sampling starts with `watch`). */
  observed(): ObservedNamespace[];
  close(): Promise<void>;
}
