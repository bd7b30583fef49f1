import {
  PLATFORM_TENANT,
  TenantDocSchema,
  parseOrThrow,
  paths,
  worldTenant,
  type TenantDoc,
  type Tier,
  type Transaction,
  type WorldDoc,
  type WorldSpec,
} from '@fleetforge/shared';

/** A tenant document, validated (`path` names it in the error). */
export function parseTenant(data: unknown, path: string): TenantDoc {
  return parseOrThrow(TenantDocSchema, data, path);
}

/** Whom a world's cells are billed to, as their start commands say it. */
export interface CellBilling {
  /** Null: the platform tenant (the agent bills it as its FF_METER_TENANT). */
  tenant: string | null;
  /** The tenant's tier now; null for the platform tenant, or a tenant whose document is gone. */
  tier: Tier | null;
}

/**
 * The world's tenant and that tenant's tier as it is now: read when cells start, so
 * a tenant upgraded from dev to standard has its cells started afterwards billed as
 * standard (running cells keep the tier they started with until their next incarnation).
 */
export async function cellBilling(store: Pick<Transaction, 'get'>, world: WorldDoc): Promise<CellBilling> {
  const tenant = worldTenant(world.spec);
  if (tenant === PLATFORM_TENANT) return { tenant: null, tier: null };
  const data = await store.get(paths.tenant(tenant));
  const doc = data ? TenantDocSchema.safeParse(data) : undefined;
  return { tenant, tier: doc?.success ? doc.data.spec.tier : null };
}

/** The stored tenant a world spec names, for the apply planner; undefined for the platform tenant, none, or unparseable. */
export async function readWorldTenant(
  tx: Pick<Transaction, 'get'>,
  spec: Pick<WorldSpec, 'tenant'>,
): Promise<TenantDoc | undefined> {
  const tenant = worldTenant(spec);
  if (tenant === PLATFORM_TENANT) return undefined;
  const data = await tx.get(paths.tenant(tenant));
  const doc = data ? TenantDocSchema.safeParse(data) : undefined;
  return doc?.success ? doc.data : undefined;
}
