import {
  FleetError,
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

/**
 * Apply-time rules for `spec.tenant`: it names a tenant that exists (and is not being
 * deleted), and it never changes on a live world (its running cells are billed to it).
 * The platform tenant needs no document.
 */
export async function checkWorldTenant(
  tx: Pick<Transaction, 'get'>,
  spec: Pick<WorldSpec, 'tenant'>,
  current: Pick<WorldDoc, 'spec'> | undefined,
): Promise<void> {
  const tenant = worldTenant(spec);
  if (current && worldTenant(current.spec) !== tenant) {
    throw new FleetError(
      'FAILED_PRECONDITION',
      `spec.tenant cannot change on a live world: its cells are billed to ${worldTenant(current.spec)}`,
      { issues: [{ path: 'spec.tenant', message: 'immutable after creation; delete the world and apply again' }] },
    );
  }
  if (tenant === PLATFORM_TENANT) return;
  const data = await tx.get(paths.tenant(tenant));
  const doc = data ? TenantDocSchema.safeParse(data) : undefined;
  if (!doc?.success || doc.data.desired === 'absent') {
    throw new FleetError('FAILED_PRECONDITION', `spec.tenant: tenant ${tenant} does not exist`, {
      issues: [
        {
          path: 'spec.tenant',
          message: `no tenant ${tenant}${doc?.success ? ' (it is being deleted)' : ''}: create it first (ffctl tenant create ${tenant} --tier …), or leave spec.tenant out for the platform tenant`,
        },
      ],
    });
  }
}
