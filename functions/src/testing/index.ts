/**
 * For tests only (`@fleetforge/functions/testing`): handler deps on the in-memory
 * fakes and the functions wired to an in-memory bus. Production code never imports
 * this (the functions bundle leaves testing/ out).
 */
export { memoryDeps } from './memory-deps';
export { wireFunctions } from './wire-functions';
export { TWO_CELL_WORLD, applyWorld, readyReport } from './worlds';
