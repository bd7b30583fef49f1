import { TenantDocSchema, WorldSpecSchema, paths, type TenantDoc, type Tier, type WorldDoc } from '@fleetforge/shared';
import { MemoryStateStore } from '@fleetforge/shared/testing';
import { cellBilling } from './tenants';

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
