/** Test-only: production code never imports this file. */
import type { SubscriptionHandle } from '@fleetforge/shared';
import { pubSubFunctions, type FunctionOptions } from '../function-table';
import type { Deps } from '../deps';

/**
 * Subscribes every Pub/Sub-triggered function of the table to `deps.bus` (a
 * MemoryBus from `@fleetforge/shared/testing`) on its push subscription from the
 * registry, as production routes it: the same schema, handler and failure policy
 * (poison to the dead-letter topic, retryable errors redelivered), then the metrics
 * flushed. Close the handle to unsubscribe them all.
 */
export function wireFunctions(deps: Deps, options: FunctionOptions = {}): SubscriptionHandle {
  const subscriptions = pubSubFunctions().map((fn) =>
    deps.bus.subscribe(fn.trigger.subscription, (message) => fn.deliver(deps, () => message, options)),
  );
  return {
    close: async () => {
      await Promise.all(subscriptions.map((s) => s.close()));
    },
  };
}
