import {
  Firestore,
  Timestamp,
  type Query as FsQuery,
  type Transaction as FsTransaction,
} from '@google-cloud/firestore';
import {
  FleetError,
  type DocData,
  type DocSnapshot,
  type Query,
  type StateStore,
  type Transaction,
  type VersionedDoc,
  type WriteOp,
} from '@fleetforge/shared';

/** A document's update time as a version token (`seconds.nanos`), and back. */
function versionOf(t: Timestamp): string {
  return `${t.seconds}.${String(t.nanoseconds).padStart(9, '0')}`;
}

function lastUpdateTime(version: string): { lastUpdateTime: Timestamp } {
  const [s, ns] = version.split('.');
  return { lastUpdateTime: new Timestamp(Number(s), Number(ns ?? 0)) };
}

/** gRPC status codes the Firestore client surfaces, mapped onto FleetError codes. */
function mapError(err: unknown): FleetError {
  if (err instanceof FleetError) return err;
  const code = (err as { code?: number }).code;
  const message = err instanceof Error ? err.message : String(err);
  switch (code) {
    case 6:
      return new FleetError('CONFLICT', message, { cause: err });
    case 5:
      return new FleetError('NOT_FOUND', message, { cause: err });
    case 10:
      return new FleetError('ABORTED', message, { cause: err });
    case 4:
      return new FleetError('DEADLINE_EXCEEDED', message, { cause: err });
    case 14:
    case 8:
      return new FleetError('UNAVAILABLE', message, { cause: err });
    default:
      return new FleetError('UNAVAILABLE', `firestore: ${message}`, { cause: err });
  }
}

async function guard<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw mapError(err);
  }
}

/**
 * StateStore on Cloud Firestore (and, unchanged, on the Firestore emulator when
 * FIRESTORE_EMULATOR_HOST is set). Documents are plain JSON: times are ISO strings.
 */
export class FirestoreStateStore implements StateStore {
  readonly db: Firestore;

  constructor(projectId: string, db?: Firestore) {
    this.db = db ?? new Firestore({ projectId, ignoreUndefinedProperties: true, preferRest: false });
  }

  private query(collection: string, q: Query = {}): FsQuery {
    let query: FsQuery = this.db.collection(collection);
    for (const f of q.where ?? []) query = query.where(f.field, f.op, f.value);
    if (q.orderBy) query = query.orderBy(q.orderBy.field, q.orderBy.direction ?? 'asc');
    if (q.limit !== undefined) query = query.limit(q.limit);
    return query;
  }

  private static rows(snap: FirebaseFirestore.QuerySnapshot): DocSnapshot[] {
    return snap.docs.map((d) => ({ id: d.id, path: d.ref.path, data: d.data() }));
  }

  get(path: string): Promise<DocData | undefined> {
    return guard(async () => (await this.db.doc(path).get()).data());
  }

  getVersioned(path: string): Promise<VersionedDoc | undefined> {
    return guard(async () => {
      const snap = await this.db.doc(path).get();
      return snap.exists && snap.updateTime
        ? { data: snap.data() ?? {}, version: versionOf(snap.updateTime) }
        : undefined;
    });
  }

  list(collection: string, query?: Query): Promise<DocSnapshot[]> {
    return guard(async () => FirestoreStateStore.rows(await this.query(collection, query).get()));
  }

  create(path: string, data: DocData): Promise<void> {
    return guard(async () => void (await this.db.doc(path).create(data)));
  }

  set(path: string, data: DocData): Promise<void> {
    return guard(async () => void (await this.db.doc(path).set(data)));
  }

  update(path: string, patch: DocData): Promise<void> {
    return guard(async () => void (await this.db.doc(path).update(patch)));
  }

  delete(path: string): Promise<void> {
    return guard(async () => void (await this.db.doc(path).delete()));
  }

  batch(ops: readonly WriteOp[]): Promise<void> {
    const conditional = ops.some((op) => 'ifVersion' in op && op.ifVersion !== undefined);
    return guard(async () => {
      const b = this.db.batch();
      for (const op of ops) {
        const ref = this.db.doc(op.path);
        if (op.op === 'create') b.create(ref, op.data);
        else if (op.op === 'set') b.set(ref, op.data);
        else if (op.op === 'update') {
          if (op.ifVersion === undefined) b.update(ref, op.patch);
          else b.update(ref, op.patch, lastUpdateTime(op.ifVersion));
        } else if (op.ifVersion === undefined) b.delete(ref);
        else b.delete(ref, lastUpdateTime(op.ifVersion));
      }
      try {
        await b.commit();
      } catch (err) {
        // A failed version precondition: someone wrote first; the caller reads again.
        if (conditional && (err as { code?: number }).code === 9)
          throw new FleetError('ABORTED', `a document changed since it was read: ${(err as Error).message}`, {
            cause: err,
          });
        throw err;
      }
    });
  }

  runTransaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    return guard(() =>
      this.db.runTransaction(
        async (t: FsTransaction) => {
          const tx: Transaction = {
            get: async (path) => (await t.get(this.db.doc(path))).data(),
            list: async (collection, query) => FirestoreStateStore.rows(await t.get(this.query(collection, query))),
            create: (path, data) => void t.create(this.db.doc(path), data),
            set: (path, data) => void t.set(this.db.doc(path), data),
            update: (path, patch) => void t.update(this.db.doc(path), patch),
            delete: (path) => void t.delete(this.db.doc(path)),
          };
          return fn(tx);
        },
        { maxAttempts: 25 },
      ),
    );
  }

  close(): Promise<void> {
    return this.db.terminate();
  }
}
