import { TenantDocSchema, type TenantDoc, type TenantSpec } from '../tenancy/tenancy';
import { WorldDocSchema, type WorldDoc } from '../world/model';

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

/** What a test changes in {@link worldFixture}'s world. */
export interface WorldFixture {
  name?: string;
  /** The spec as a manifest gives it (defaults filled): a 2×1 grid unless given. */
  spec?: Record<string, unknown>;
  status?: Partial<WorldDoc['status']>;
  correlationId?: string;
  /** Creation, update and initialization time (default 2026-01-01T00:00:00Z). */
  at?: string;
}

/** A Ready, initialized world `world-a` of two cells at routing epoch 1, parsed as stored. */
export function worldFixture(over: WorldFixture = {}): WorldDoc {
  const at = over.at ?? '2026-01-01T00:00:00.000Z';
  return WorldDocSchema.parse({
    name: over.name ?? 'world-a',
    spec: over.spec ?? { topology: { bounds: { x: 0, y: 0, width: 200, height: 100 }, grid: { cols: 2, rows: 1 } } },
    specHash: 'hash',
    status: {
      phase: 'Ready',
      ready: true,
      cellsActive: 2,
      routingEpoch: 1,
      generation: 1,
      observedGeneration: 1,
      initializedAt: at,
      ...over.status,
    },
    createdAt: at,
    updatedAt: at,
    correlationId: over.correlationId ?? 'corr-world',
  });
}
