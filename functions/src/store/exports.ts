import { z } from 'zod';
import {
  BillingConfigSchema,
  COLLECTIONS,
  ExportDocSchema,
  parseOrThrow,
  paths,
  type BillingConfig,
  type ExportDoc,
  type StateStore,
  type Transaction,
} from '@fleetforge/shared';

/** The head of the export chain (`billing/head`). */
export const BillingHeadSchema = z.strictObject({
  seq: z.number().int().nonnegative(),
  id: z.string().nullable(),
  hash: z.string().nullable(),
  /** The export holding the next chain position, until its manifest is committed. */
  pending: z.string().nullable(),
  pendingSince: z.string().nullable(),
});
export type BillingHead = z.infer<typeof BillingHeadSchema>;
const EMPTY_HEAD: BillingHead = { seq: 0, id: null, hash: null, pending: null, pendingSince: null };

/** The chain head, validated; before the first export, the empty head. */
export async function readBillingHead(tx: Pick<Transaction, 'get'>): Promise<BillingHead> {
  return BillingHeadSchema.parse((await tx.get(paths.billingHead())) ?? EMPTY_HEAD);
}

/** Every complete export, in chain order. */
export async function listCompleteExports(store: Pick<StateStore, 'list'>): Promise<ExportDoc[]> {
  const docs = await store.list(COLLECTIONS.exports);
  return docs
    .map((d) => parseOrThrow(ExportDocSchema, d.data, `doc ${d.path}`))
    .filter((e) => e.state === 'complete')
    .sort((a, b) => a.seq - b.seq);
}

/** What is stored in `config/billing`: the overrides only (everything else is a default). */
export async function readStoredBillingConfig(tx: Pick<Transaction, 'get'>): Promise<Record<string, unknown>> {
  return (await tx.get(paths.config('billing'))) ?? {};
}

/** The live billing configuration: the stored overrides over the defaults, validated. */
export async function readBillingConfig(tx: Pick<Transaction, 'get'>): Promise<BillingConfig> {
  return parseOrThrow(BillingConfigSchema, await readStoredBillingConfig(tx), 'doc config/billing');
}
