import {
  FleetError,
  TenantDocSchema,
  WorldSpecSchema,
  paths,
  type TenantDoc,
  type Tier,
  type WorldDoc,
} from '@fleetforge/shared';
import { MemoryStateStore } from '@fleetforge/shared/testing';
import { cellBilling, checkWorldTenant } from './tenants';

const AT = '2026-03-01T10:00:00.000Z';

function tenantDoc(name: string, tier: Tier, desired: TenantDoc['desired'] = 'present'): TenantDoc {
  return TenantDocSchema.parse({
    spec: { name, tier, billingId: `bill-${name}`, admin: `ops@${name}` },
    generation: 1,
    desired,
    action: desired === 'present' ? 'apply' : 'delete',
    correlationId: 'corr',
    createdAt: AT,
    createdBy: 'token:admin',
    updatedAt: AT,
    status: { phase: 'Ready' },
  });
}

const spec = (tenant?: string) =>
  WorldSpecSchema.parse({
    ...(tenant === undefined ? {} : { tenant }),
    topology: { bounds: { x: 0, y: 0, width: 100, height: 100 }, grid: { cols: 1, rows: 1 } },
  });
const world = (tenant?: string) => ({ spec: spec(tenant) }) as WorldDoc;

async function store(): Promise<MemoryStateStore> {
  const s = new MemoryStateStore();
  await s.set(paths.tenant('acme'), tenantDoc('acme', 'dedicated'));
  await s.set(paths.tenant('sandbox'), tenantDoc('sandbox', 'dev'));
  await s.set(paths.tenant('leaving'), tenantDoc('leaving', 'standard', 'absent'));
  await s.set(paths.tenant('garbled'), { spec: { name: 'garbled' } });
  return s;
}

describe('cellBilling: whom a start command bills a cell to', () => {
  it.each([
    ['no spec.tenant: the platform tenant, which the agent is configured with', undefined, null, null],
    ['the platform tenant by name: the same', 'platform', null, null],
    ['a dedicated tenant, on its tier', 'acme', 'acme', 'dedicated'],
    ['a dev tenant, on its tier', 'sandbox', 'sandbox', 'dev'],
    ['a tenant being deleted: still itself, on its tier', 'leaving', 'leaving', 'standard'],
    ['a tenant whose document is gone: itself, tier unknown (the agent uses its default tier)', 'gone', 'gone', null],
    ['a document that does not parse: tier unknown', 'garbled', 'garbled', null],
  ])('%s', async (_what, tenant, billedTenant, billedTier) => {
    expect(await cellBilling(await store(), world(tenant))).toEqual({ tenant: billedTenant, tier: billedTier });
  });
});

describe('checkWorldTenant: apply-time rules for spec.tenant', () => {
  it.each([
    ['a new world of the platform tenant', undefined, undefined, null],
    ['a new world naming the platform tenant (no document needed)', 'platform', undefined, null],
    ['a new world of an existing tenant', 'acme', undefined, null],
    ['the same tenant again', 'acme', 'acme', null],
    ['absent and "platform" are the same tenant', 'platform', null, null],
    ['a tenant that does not exist', 'nobody', undefined, /tenant nobody does not exist/],
    ['a tenant being deleted', 'leaving', undefined, /does not exist/],
    ['a live world moving to another tenant', 'sandbox', 'acme', /cannot change on a live world.*billed to acme/],
    ['a live world of the platform tenant moving to a tenant', 'acme', null, /cannot change.*billed to platform/],
    ['a live world leaving its tenant', undefined, 'acme', /cannot change/],
  ])('%s', async (_what, tenant, currentTenant, error) => {
    const current = currentTenant === undefined ? undefined : world(currentTenant ?? undefined);
    const check = checkWorldTenant(await store(), spec(tenant), current);
    if (!error) {
      await expect(check).resolves.toBeUndefined();
      return;
    }
    const err = (await check.catch((e: unknown) => e)) as FleetError;
    expect(err).toBeInstanceOf(FleetError);
    expect(err.code).toBe('FAILED_PRECONDITION');
    expect(err.message).toMatch(error);
    expect(err.issues.map((i) => i.path)).toEqual(['spec.tenant']);
  });
});
