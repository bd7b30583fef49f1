/** A start command's generation as a driver records it: null when unknown ('0', from before generations). */
export function knownGeneration(generation: string | undefined): string | null {
  return generation && generation !== '0' ? generation : null;
}

/**
 * Orders a running cell's world generation against a start's: above 0 when the running one is
 * newer (the start is for a world deleted since), below 0 when it is older (the world was
 * deleted and applied again), 0 when they are the same or either is unknown. Generations are
 * the worlds' creation times (ISO 8601, UTC), so they order as strings.
 */
export function compareGenerations(running: string | null | undefined, wanted: string | undefined): number {
  const a = knownGeneration(running ?? undefined);
  const b = knownGeneration(wanted);
  if (a === null || b === null || a === b) return 0;
  return a > b ? 1 : -1;
}
