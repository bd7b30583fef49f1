/**
 * Stacks the e2e and chaos tests start check every world snapshot a reconcile pass
 * reuses against a read of the store (FF_CHECK_SNAPSHOTS; functions/src/env.ts).
 */
process.env.FF_CHECK_SNAPSHOTS ??= '1';
