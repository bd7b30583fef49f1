import type { Ids } from './interfaces';

/**
 * The production {@link Ids}: random ids from the platform's crypto (no node: import needed).
 * Tests use `SeqIds` from `@fleetforge/shared/testing`.
 */
export const randomIds: Ids = {
  next: (prefix = 'id') => `${prefix}-${globalThis.crypto.randomUUID().replace(/-/g, '').slice(0, 16)}`,
};
