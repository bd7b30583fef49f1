import {
  OperationDocSchema,
  paths,
  parseOrThrow,
  type OperationDoc,
  type StateStore,
  type Transaction,
} from '@fleetforge/shared';

/** Operations a reconcile looks at: the most recent ones (active ones are always among them). */
export const OPERATIONS_LOOKBACK = 200;

export async function readOperations(tx: Pick<Transaction, 'get' | 'list'>, world: string): Promise<OperationDoc[]> {
  const docs = await tx.list(paths.operations(world), {
    orderBy: { field: 'createdAt', direction: 'desc' },
    limit: OPERATIONS_LOOKBACK,
  });
  return docs.map((d) => parseOrThrow(OperationDocSchema, d.data, `document ${d.path}`));
}

/**
 * Operations a reconcile pass decides on: every active one (`completedAt` null) and
 * those that ended since `since` (see `operationsLookbackMs`), newest first. Ended
 * operations never change, and a world's history only grows: reading just the recent
 * ones keeps a pass's read flat however long the world has lived.
 */
export async function readLiveOperations(
  store: Pick<StateStore, 'list'>,
  world: string,
  since: string,
): Promise<OperationDoc[]> {
  const [active, ended] = await Promise.all([
    store.list(paths.operations(world), { where: [{ field: 'completedAt', op: '==', value: null }] }),
    store.list(paths.operations(world), {
      where: [{ field: 'completedAt', op: '>=', value: since }],
      orderBy: { field: 'completedAt', direction: 'desc' },
      limit: OPERATIONS_LOOKBACK,
    }),
  ]);
  const byId = new Map<string, OperationDoc>();
  for (const d of [...active, ...ended]) {
    const op = parseOrThrow(OperationDocSchema, d.data, `document ${d.path}`);
    byId.set(op.id, op);
  }
  return [...byId.values()].sort(newestFirst);
}

/** Newest first; operations created in the same millisecond by id, so every reader orders them alike. */
export function newestFirst(a: OperationDoc, b: OperationDoc): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}
