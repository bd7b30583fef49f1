import { OperationDocSchema, paths, parseOrThrow, type OperationDoc, type Transaction } from '@fleetforge/shared';

/** Operations a reconcile looks at: the most recent ones (active ones are always among them). */
const OPERATIONS_LOOKBACK = 200;

export async function readOperations(tx: Pick<Transaction, 'get' | 'list'>, world: string): Promise<OperationDoc[]> {
  const docs = await tx.list(paths.operations(world), {
    orderBy: { field: 'createdAt', direction: 'desc' },
    limit: OPERATIONS_LOOKBACK,
  });
  return docs.map((d) => parseOrThrow(OperationDocSchema, d.data, `document ${d.path}`));
}
