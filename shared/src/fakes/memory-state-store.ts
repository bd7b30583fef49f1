import { FleetError } from '../core/errors';
import type {
  DocData,
  DocSnapshot,
  Query,
  QueryFilter,
  StateStore,
  Transaction,
  VersionedDoc,
  WriteOp,
} from '../ports/interfaces';
import { sleep } from '../core/timing';

interface Stored {
  data: DocData;
  version: number;
}

const MAX_ATTEMPTS = 25;

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  if (i <= 0) throw new FleetError('INVALID_ARGUMENT', `not a document path: ${path}`);
  return path.slice(0, i);
}

function assertDocPath(path: string): void {
  const segments = path.split('/');
  if (segments.length % 2 !== 0 || segments.some((s) => s.length === 0)) {
    throw new FleetError('INVALID_ARGUMENT', `not a document path: ${path}`);
  }
}

/** Reads a dotted field path (`status.phase`). */
export function fieldValue(data: DocData, field: string): unknown {
  let value: unknown = data;
  for (const part of field.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function compare(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

function matches(data: DocData, f: QueryFilter): boolean {
  const v = fieldValue(data, f.field);
  if (v === undefined) return false;
  // As in Firestore, a range filter matches values of its own type only (never null).
  if (f.op !== '==' && (v === null || typeof v !== typeof f.value)) return false;
  const c = compare(v, f.value);
  switch (f.op) {
    case '==':
      return v === f.value;
    case '<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '>':
      return c > 0;
    case '>=':
      return c >= 0;
  }
}

/**
 * In-memory StateStore for unit tests. Transactions are optimistic, like
 * Firestore's: reads are versioned, and a commit whose reads changed meanwhile
 * runs the function again, so contention tests see the same retry behaviour.
 */
export class MemoryStateStore implements StateStore {
  private readonly docs = new Map<string, Stored>();
  private readonly collectionVersions = new Map<string, number>();
  private clock = 0;

  private snapshot(path: string): DocData | undefined {
    const s = this.docs.get(path);
    return s ? structuredClone(s.data) : undefined;
  }

  private query(collection: string, q: Query = {}): DocSnapshot[] {
    let rows: DocSnapshot[] = [];
    for (const [path, stored] of this.docs) {
      if (parentOf(path) !== collection) continue;
      if ((q.where ?? []).every((f) => matches(stored.data, f))) {
        rows.push({ id: path.slice(collection.length + 1), path, data: structuredClone(stored.data) });
      }
    }
    const order = q.orderBy;
    rows.sort((a, b) =>
      order
        ? compare(fieldValue(a.data, order.field), fieldValue(b.data, order.field)) *
          (order.direction === 'desc' ? -1 : 1)
        : compare(a.id, b.id),
    );
    if (q.limit !== undefined) rows = rows.slice(0, q.limit);
    return rows;
  }

  private apply(ops: readonly WriteOp[]): void {
    // Validate everything first so a failing op leaves nothing half-written.
    const exists = new Map<string, boolean>();
    const has = (p: string) => exists.get(p) ?? this.docs.has(p);
    for (const op of ops) {
      assertDocPath(op.path);
      if ((op.op === 'update' || op.op === 'delete') && op.ifVersion !== undefined) {
        if (String(this.docs.get(op.path)?.version ?? 'missing') !== op.ifVersion)
          throw new FleetError('ABORTED', `document changed since it was read: ${op.path}`);
      }
      if (op.op === 'create' && has(op.path)) throw new FleetError('CONFLICT', `document already exists: ${op.path}`);
      if (op.op === 'update' && !has(op.path)) throw new FleetError('NOT_FOUND', `no document to update: ${op.path}`);
      exists.set(op.path, op.op !== 'delete');
    }
    for (const op of ops) {
      const version = ++this.clock;
      const collection = parentOf(op.path);
      this.collectionVersions.set(collection, version);
      switch (op.op) {
        case 'create':
        case 'set':
          this.docs.set(op.path, { data: structuredClone(op.data), version });
          break;
        case 'update': {
          const current = this.docs.get(op.path);
          this.docs.set(op.path, { data: { ...(current?.data ?? {}), ...structuredClone(op.patch) }, version });
          break;
        }
        case 'delete':
          this.docs.delete(op.path);
          break;
      }
    }
  }

  async get(path: string): Promise<DocData | undefined> {
    assertDocPath(path);
    return this.snapshot(path);
  }

  async getVersioned(path: string): Promise<VersionedDoc | undefined> {
    assertDocPath(path);
    const s = this.docs.get(path);
    return s ? { data: structuredClone(s.data), version: String(s.version) } : undefined;
  }

  async list(collection: string, query?: Query): Promise<DocSnapshot[]> {
    return this.query(collection, query);
  }

  async create(path: string, data: DocData): Promise<void> {
    this.apply([{ op: 'create', path, data }]);
  }

  async set(path: string, data: DocData): Promise<void> {
    this.apply([{ op: 'set', path, data }]);
  }

  async update(path: string, patch: DocData): Promise<void> {
    this.apply([{ op: 'update', path, patch }]);
  }

  async delete(path: string): Promise<void> {
    this.apply([{ op: 'delete', path }]);
  }

  async batch(ops: readonly WriteOp[]): Promise<void> {
    this.apply(ops);
  }

  async runTransaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const docReads = new Map<string, number>();
      const collectionReads = new Map<string, number>();
      const writes: WriteOp[] = [];
      const readGuard = (): void => {
        if (writes.length > 0) throw new FleetError('INTERNAL', 'transactions must do all reads before any write');
      };
      const tx: Transaction = {
        get: async (path) => {
          readGuard();
          assertDocPath(path);
          docReads.set(path, this.docs.get(path)?.version ?? 0);
          return this.snapshot(path);
        },
        list: async (collection, query) => {
          readGuard();
          collectionReads.set(collection, this.collectionVersions.get(collection) ?? 0);
          return this.query(collection, query);
        },
        create: (path, data) => void writes.push({ op: 'create', path, data }),
        set: (path, data) => void writes.push({ op: 'set', path, data }),
        update: (path, patch) => void writes.push({ op: 'update', path, patch }),
        delete: (path) => void writes.push({ op: 'delete', path }),
      };
      const result = await fn(tx);
      const stale =
        [...docReads].some(([p, v]) => (this.docs.get(p)?.version ?? 0) !== v) ||
        [...collectionReads].some(([c, v]) => (this.collectionVersions.get(c) ?? 0) !== v);
      if (stale) {
        // Yield so the competing writer can finish, as a real backoff would.
        await sleep(attempt);
        continue;
      }
      this.apply(writes);
      return result;
    }
    throw new FleetError('ABORTED', `transaction contended ${MAX_ATTEMPTS} times`);
  }

  async close(): Promise<void> {
    // Nothing to release.
  }
}
