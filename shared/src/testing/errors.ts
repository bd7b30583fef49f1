import { FleetError } from '../core/errors';

/** Runs `run` and returns the FleetError it throws; fails the test if it throws nothing or something else. */
export function fleetErrorFrom(run: () => unknown): FleetError {
  try {
    run();
  } catch (e) {
    if (e instanceof FleetError) return e;
    throw e;
  }
  throw new Error('expected a FleetError');
}
