import type { Clock } from './interfaces';

/** The production {@link Clock}: the machine's time. Tests use `FakeClock` from `@fleetforge/shared/testing`. */
export const systemClock: Clock = { now: () => new Date() };
