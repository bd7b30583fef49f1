import {
  systemClock,
  randomIds,
  type Bus,
  type Clock,
  type Ids,
  type MetricsSink,
  type StateStore,
} from '@fleetforge/shared';
import type { BillingDeps } from './usecases/billing-export';
import type { Logger } from './log';

/** What every handler needs; production wires real adapters, tests wire fakes. */
export interface Deps {
  store: StateStore;
  bus: Bus;
  metrics: MetricsSink;
  clock: Clock;
  ids: Ids;
  log: Logger;
  /** Start/stop commands not acknowledged after this long are re-sent. */
  resendAfterMs: number;
  /** A serving cell silent for this long is restarted (0 disables). */
  staleAfterMs: number;
  /**
   * A pass that reuses its snapshot of a world's cells and operations (see `WorldSnapshot`)
   * also reads them and fails on a difference. On in tests; production leaves it off.
   */
  checkSnapshots?: boolean;
  /** Billing exports (blob store, signing key); built on first use in production when absent. */
  billing?: BillingDeps;
}

export function testDeps(partial: Pick<Deps, 'store' | 'bus' | 'metrics' | 'log'> & Partial<Deps>): Deps {
  return {
    clock: systemClock,
    ids: randomIds,
    resendAfterMs: 5000,
    staleAfterMs: 15_000,
    checkSnapshots: true,
    ...partial,
  };
}
