import type { CellRunSpec } from '@fleetforge/shared';

/** The environment a cell process reads (agent/src/cell/main.ts), whichever driver starts it. */
export function cellEnv(spec: CellRunSpec, sampleMs = 1000): Record<string, string> {
  return {
    FF_WORLD: spec.world,
    FF_CELL: spec.cell,
    FF_INCARNATION: String(spec.incarnation),
    FF_BOUNDARY: JSON.stringify(spec.boundary),
    FF_CAPACITY: JSON.stringify(spec.capacity),
    FF_EPOCH: String(spec.epoch),
    FF_NEVER_READY: spec.neverReady ? '1' : '0',
    FF_SAMPLE_MS: String(sampleMs),
    FF_WORLD_GENERATION: spec.generation ?? '0',
  };
}
