import { FleetError } from '../core/errors';
import type { Principal } from '../api/auth';
import type { PlannedEvent } from '../world/events';
import { tenantEvent } from './plan';
import {
  DEFAULT_FEATURE_FLAGS,
  FeatureFlagsSchema,
  TenantDocSchema,
  featureEnabled,
  type Feature,
  type FeatureFlags,
  type TenantCreateRequest,
  type TenantDoc,
  type TenantUpgradeRequest,
  type Tier,
} from './tenancy';

/**
 * The pure rules behind the tenant API: each planner takes the stored document and the
 * request and returns what to write (or throws the FleetError the caller sees); the
 * handler only reads, writes, audits and publishes.
 */

/** Who asks, and when: stamped on every document and event a planner returns. */
export interface RequestStamp {
  now: Date;
  correlationId: string;
  principal: string;
}

export type TenantCreatePlan =
  { result: 'existing'; doc: TenantDoc } | { result: 'created'; doc: TenantDoc; event: PlannedEvent };

/**
 * `POST /v1/tenants`: a new tenant starts Pending with generation 1; the same name and
 * tier again is an idempotent repeat; another tier is a conflict (upgrade instead).
 */
export function planTenantCreate(
  existing: TenantDoc | undefined,
  req: TenantCreateRequest,
  at: RequestStamp,
): TenantCreatePlan {
  if (req.poolNodes !== undefined && req.tier !== 'dedicated') {
    throw new FleetError('INVALID_ARGUMENT', 'poolNodes applies to the dedicated tier only', {
      issues: [{ path: 'poolNodes', message: `not allowed for tier ${req.tier}` }],
    });
  }
  if (existing) {
    if (existing.desired === 'absent')
      throw new FleetError('CONFLICT', `tenant ${req.name} is being deleted; retry when it is gone`);
    if (existing.spec.tier !== req.tier) {
      throw new FleetError(
        'CONFLICT',
        `tenant ${req.name} exists on tier ${existing.spec.tier}; use \`ffctl tenant upgrade ${req.name} --to standard\` to change tier`,
      );
    }
    return { result: 'existing', doc: existing };
  }
  const iso = at.now.toISOString();
  // The schema fills the empty status (no namespace, placements, pool, usage yet).
  const doc = TenantDocSchema.parse({
    spec: {
      name: req.name,
      tier: req.tier,
      billingId: req.billingId ?? `bill-${req.name}`,
      admin: req.admin ?? `admin@${req.name}`,
      poolNodes: req.poolNodes ?? 2,
    },
    generation: 1,
    desired: 'present',
    action: 'apply',
    correlationId: at.correlationId,
    createdAt: iso,
    createdBy: at.principal,
    updatedAt: iso,
    status: { phase: 'Pending', message: 'waiting for the agent' },
  });
  return {
    result: 'created',
    doc,
    event: tenantEvent(doc, 'TenantCreated', 'Requested', `tier ${doc.spec.tier} requested`),
  };
}

/**
 * What an upgrade or delete does to a stored tenant: nothing (a repeat), a new
 * generation for the agent to work toward, or removing a record no agent will ever see.
 */
export type TenantChangePlan =
  | { result: 'unchanged'; doc: TenantDoc }
  | { result: 'changed'; doc: TenantDoc; action: 'upgrade' | 'delete' }
  | { result: 'removed'; doc: TenantDoc; event: PlannedEvent };

function nextGeneration(next: TenantDoc, action: 'upgrade' | 'delete', at: RequestStamp): TenantChangePlan {
  return {
    result: 'changed',
    action,
    doc: {
      ...next,
      generation: next.generation + 1,
      action,
      correlationId: at.correlationId,
      updatedAt: at.now.toISOString(),
    },
  };
}

/** `POST /v1/tenants/{name}/upgrade`: only a Ready dev tenant upgrades (to standard); a repeat once done is a no-op. */
export function planTenantUpgrade(cur: TenantDoc, req: TenantUpgradeRequest, at: RequestStamp): TenantChangePlan {
  if (cur.desired === 'absent') throw new FleetError('CONFLICT', `tenant ${cur.spec.name} is being deleted`);
  if (cur.spec.tier === 'standard' && cur.action === 'upgrade' && cur.status.observedGeneration >= cur.generation) {
    return { result: 'unchanged', doc: cur };
  }
  if (cur.spec.tier !== 'dev') {
    throw new FleetError(
      'FAILED_PRECONDITION',
      `only dev tenants upgrade to standard; ${cur.spec.name} is ${cur.spec.tier}`,
    );
  }
  if (cur.status.phase !== 'Ready' || cur.status.observedGeneration < cur.generation) {
    throw new FleetError(
      'FAILED_PRECONDITION',
      `tenant ${cur.spec.name} is ${cur.status.phase}; an upgrade starts from a Ready dev tenant`,
    );
  }
  return nextGeneration(
    { ...cur, upgrade: { to: req.to, failAt: req.failAt, requestedAt: at.now.toISOString() } },
    'upgrade',
    at,
  );
}

/**
 * `DELETE /v1/tenants/{name}`: the agent decommissions the tenant (phase Deleting). A tenant
 * the agent answered Unavailable (no cluster) was never created anywhere: its record is
 * removed at once, as no agent with a cluster will come to decommission it.
 */
export function planTenantDelete(cur: TenantDoc, at: RequestStamp): TenantChangePlan {
  if (cur.status.phase === 'Unavailable' && cur.status.namespace === null) {
    return {
      result: 'removed',
      doc: cur,
      event: tenantEvent(cur, 'TenantDeleted', 'Deleted', 'never provisioned (no cluster): record removed'),
    };
  }
  if (cur.desired === 'absent') return { result: 'unchanged', doc: cur };
  return nextGeneration({ ...cur, desired: 'absent', status: { ...cur.status, phase: 'Deleting' } }, 'delete', at);
}

/**
 * `GET /v1/tenants/{name}/kubeconfig`: the pending kubeconfig, handed out once; the
 * document returned records to whom and when.
 */
export function planKubeconfigDelivery(
  cur: TenantDoc,
  at: RequestStamp,
): { kubeconfig: string; doc: TenantDoc; event: PlannedEvent } {
  const name = cur.spec.name;
  if (cur.kubeconfig.deliveredAt) {
    throw new FleetError(
      'FAILED_PRECONDITION',
      `the kubeconfig of ${name} was delivered at ${cur.kubeconfig.deliveredAt} to ${cur.kubeconfig.deliveredTo}; it is handed out once`,
    );
  }
  if (!cur.kubeconfig.pending) {
    throw new FleetError(
      'FAILED_PRECONDITION',
      `tenant ${name} has no kubeconfig yet (phase ${cur.status.phase}, tier ${cur.spec.tier})`,
    );
  }
  const iso = at.now.toISOString();
  return {
    kubeconfig: cur.kubeconfig.pending,
    doc: { ...cur, kubeconfig: { pending: null, deliveredAt: iso, deliveredTo: at.principal }, updatedAt: iso },
    event: tenantEvent(cur, 'KubeconfigDelivered', 'Delivered', `kubeconfig delivered to ${at.principal}`),
  };
}

/**
 * A domain rule on top of a route's permission: tenant admins see their own tenant
 * only (403 otherwise, without saying whether the other exists).
 */
export function requireOwnTenant(principal: Principal, tenant: string): void {
  if (principal.role === 'tenant-admin' && principal.tenant !== tenant) {
    throw new FleetError(
      'PERMISSION_DENIED',
      `token ${principal.name} may only see tenant ${principal.tenant ?? '(none)'}`,
    );
  }
}

/**
 * The stored flags over the defaults, tier by tier and feature by feature: a
 * document written before a feature existed still parses, and gets the default.
 * A document that does not parse is the platform's fault (500), not the caller's.
 */
export function parseFeatureFlags(data: Record<string, unknown> | undefined): FeatureFlags {
  const stored = (data?.tiers ?? {}) as Record<string, Record<string, unknown> | undefined>;
  const merged = Object.fromEntries(
    Object.entries(DEFAULT_FEATURE_FLAGS.tiers).map(([tier, features]) => [tier, { ...features, ...stored[tier] }]),
  );
  const r = FeatureFlagsSchema.safeParse({ tiers: merged });
  if (!r.success) {
    throw new FleetError('INTERNAL', `config/tenant-features is invalid: ${r.error.issues[0]?.message ?? 'unknown'}`);
  }
  return r.data;
}

/** One flag set for one tier; the rest unchanged. */
export function setFeatureFlag(
  cur: FeatureFlags,
  patch: { tier: Tier; feature: Feature; enabled: boolean },
): FeatureFlags {
  return { tiers: { ...cur.tiers, [patch.tier]: { ...cur.tiers[patch.tier], [patch.feature]: patch.enabled } } };
}

/**
 * GH-031: why a tier may not use a premium feature, naming the tiers that may;
 * null when it may.
 */
export function featureDenial(flags: FeatureFlags, tier: Tier, feature: Feature): string | null {
  if (featureEnabled(flags, tier, feature)) return null;
  const allowed = (['dev', 'standard', 'dedicated'] as const).filter((t) => featureEnabled(flags, t, feature));
  return `${feature} is not available on the ${tier} tier (available on: ${allowed.join(', ') || 'no tier'}); upgrade the tenant to use it`;
}
