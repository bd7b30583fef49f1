import {
  LifecycleEventSchema,
  canonicalJson,
  eventId,
  paths,
  type Ids,
  type LifecycleEvent,
  type PlannedEvent,
  type Principal,
  type StateStore,
  type Transaction,
  type TransactionWrites,
} from '@fleetforge/shared';
import { sha256Hex } from '../canonical';

export interface EventContext {
  world: string | null;
  tenant?: string | null;
  correlationId: string;
  principal: string;
  time: Date;
  ids: Ids;
}

/** Builds the stored event for a planned one; ids sort by time. */
export function buildEvent(e: PlannedEvent, ctx: EventContext): LifecycleEvent {
  const time = ctx.time.toISOString();
  return LifecycleEventSchema.parse({
    id: eventId(time, ctx.ids.next('ev')),
    type: e.type,
    severity: e.severity ?? 'Normal',
    time,
    world: ctx.world,
    tenant: ctx.tenant ?? null,
    cells: e.cells,
    correlationId: ctx.correlationId,
    reason: e.reason,
    message: e.message,
    principal: ctx.principal,
    data: e.data ?? {},
  });
}

/** Writes events with the change they describe (same transaction or batch): an event exists exactly when its state change does. */
export function writeEvents(
  tx: TransactionWrites,
  events: readonly PlannedEvent[],
  ctx: EventContext,
): LifecycleEvent[] {
  return events.map((e) => {
    const ev = buildEvent(e, ctx);
    tx.set(paths.event(ev.id), ev);
    return ev;
  });
}

export interface AuditEntry {
  action: string;
  target: string;
  principal: Principal | { id: string };
  correlationId: string;
  details?: Record<string, unknown>;
}

interface AuditHead {
  seq: number;
  hash: string;
}

const GENESIS = '0'.repeat(64);

/**
 * Runs `fn` in a transaction that also appends one entry to the hash-chained audit
 * log. The head is read first (transactions read before they write) and the entry
 * written last, so an audited change and its entry commit together or not at all.
 */
export async function auditedTransaction<T>(
  store: StateStore,
  now: () => Date,
  fn: (tx: Transaction) => Promise<{ result: T; audit: AuditEntry | undefined }>,
): Promise<T> {
  return store.runTransaction(async (tx) => {
    const head = ((await tx.get(paths.auditHead())) as AuditHead | undefined) ?? { seq: 0, hash: GENESIS };
    const { result, audit } = await fn(tx);
    if (audit) {
      const seq = head.seq + 1;
      const body = {
        seq,
        time: now().toISOString(),
        action: audit.action,
        target: audit.target,
        principal: audit.principal.id,
        correlationId: audit.correlationId,
        details: audit.details ?? {},
        prevHash: head.hash,
      };
      const hash = sha256Hex(head.hash + canonicalJson(body));
      tx.set(paths.audit(String(seq).padStart(12, '0')), { ...body, hash });
      tx.set(paths.auditHead(), { seq, hash });
    }
    return result;
  });
}

/** Re-computes the chain; returns the first broken entry's seq, or undefined when intact. */
export function verifyAuditChain(entries: ReadonlyArray<Record<string, unknown>>): number | undefined {
  let prev = GENESIS;
  for (const entry of entries) {
    const { hash, ...body } = entry;
    if (body.prevHash !== prev || sha256Hex(prev + canonicalJson(body)) !== hash) return Number(body.seq);
    prev = String(hash);
  }
  return undefined;
}
