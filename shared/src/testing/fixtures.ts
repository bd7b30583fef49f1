import { TenantDocSchema, type TenantDoc, type TenantSpec } from '../tenancy/tenancy';

/** What a test changes in {@link tenantFixture}'s tenant. */
export interface TenantFixture {
  spec?: Partial<TenantSpec>;
  status?: Partial<TenantDoc['status']>;
  kubeconfig?: Partial<TenantDoc['kubeconfig']>;
  generation?: number;
  desired?: TenantDoc['desired'];
  action?: TenantDoc['action'];
  upgrade?: TenantDoc['upgrade'];
  correlationId?: string;
  /** Creation and update time (default 2026-01-01T00:00:00Z). */
  at?: string;
}

/** A dev tenant `acme`, generation 1, waiting for the agent, parsed as stored. */
export function tenantFixture(over: TenantFixture = {}): TenantDoc {
  const at = over.at ?? '2026-01-01T00:00:00.000Z';
  return TenantDocSchema.parse({
    spec: { name: 'acme', tier: 'dev', billingId: 'bill-acme', admin: 'ops@acme', poolNodes: 2, ...over.spec },
    generation: over.generation ?? 1,
    desired: over.desired ?? 'present',
    action: over.action ?? 'apply',
    upgrade: over.upgrade ?? null,
    correlationId: over.correlationId ?? 'corr-create',
    createdAt: at,
    createdBy: 'token:admin',
    updatedAt: at,
    status: { phase: 'Pending', ...over.status },
    kubeconfig: { pending: null, deliveredAt: null, deliveredTo: null, ...over.kubeconfig },
  });
}
