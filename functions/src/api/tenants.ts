import {
  COLLECTIONS,
  DEFAULT_FEATURE_FLAGS,
  FeatureFlagsPatchSchema,
  FeatureFlagsSchema,
  FleetError,
  TOPICS,
  TenantCreateRequestSchema,
  TenantDocSchema,
  TenantUpgradeRequestSchema,
  featureEnabled,
  parseOrThrow,
  paths,
  tenantEvent,
  tenantView,
  type Feature,
  type FeatureFlags,
  type PlannedEvent,
  type Principal,
  type StateStore,
  type TenantDoc,
  type Transaction,
} from '@fleetforge/shared';
import { parseTenant } from '../store/tenants';
import { auditedTransaction, writeEvents } from '../store/records';
import { json, type ApiResponse, type AuthedContext, type RouteContext } from './http';

/**
 * A domain rule on top of the route's permission (which the router checks): tenant
 * admins see their own tenant only (403 otherwise, without saying whether the other exists).
 */
function requireOwnTenant(principal: Principal, tenant: string): void {
  if (principal.role === 'tenant-admin' && principal.tenant !== tenant) {
    throw new FleetError(
      'PERMISSION_DENIED',
      `token ${principal.name} may only see tenant ${principal.tenant ?? '(none)'}`,
    );
  }
}

/** Writes one event about a tenant, caused by this request's principal. */
function writeTenantEvent(
  tx: Transaction,
  ctx: RouteContext,
  principal: Principal,
  tenant: string,
  event: PlannedEvent,
): void {
  writeEvents(tx, [event], {
    world: null,
    tenant,
    correlationId: ctx.correlationId,
    principal: principal.id,
    time: ctx.deps.clock.now(),
    ids: ctx.deps.ids,
  });
}

async function loadTenant(store: StateStore | Transaction, name: string): Promise<TenantDoc> {
  const path = paths.tenant(name);
  const data = await store.get(path);
  if (!data) throw new FleetError('NOT_FOUND', `tenant ${name} not found`);
  return parseTenant(data, path);
}

async function requestReconcile(ctx: RouteContext, tenant: string, reason: string): Promise<void> {
  await ctx.deps.bus.publish(
    TOPICS.tenantRequests,
    { kind: 'reconcile', tenant, reason, correlationId: ctx.correlationId },
    { tenant },
  );
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

export async function readFeatureFlags(store: StateStore): Promise<FeatureFlags> {
  return parseFeatureFlags(await store.get(paths.config('tenant-features')));
}

/**
 * GH-031: a tenant's token may use a premium API only if its tier has the
 * feature. The flags are read on every call (live reload); a refusal is audited
 * with the tenant's tier and billing id and recorded as a `FeatureDenied` event.
 */
export async function requireFeature(ctx: RouteContext, principal: Principal, feature: Feature): Promise<void> {
  if (!principal.tenant) return; // platform staff are not gated by a tenant tier
  const { deps } = ctx;
  const tenant = await loadTenant(deps.store, principal.tenant);
  const flags = await readFeatureFlags(deps.store);
  if (featureEnabled(flags, tenant.spec.tier, feature)) return;
  const allowed = (['dev', 'standard', 'dedicated'] as const).filter((t) => featureEnabled(flags, t, feature));
  const message = `${feature} is not available on the ${tenant.spec.tier} tier (available on: ${allowed.join(', ') || 'no tier'}); upgrade the tenant to use it`;
  deps.metrics.inc('fleetforge_feature_denied_total', { tier: tenant.spec.tier, feature });
  await auditedTransaction(
    deps.store,
    () => deps.clock.now(),
    async (tx) => {
      writeTenantEvent(
        tx,
        ctx,
        principal,
        tenant.spec.name,
        tenantEvent(tenant, 'FeatureDenied', feature, message, { path: ctx.req.path }, 'Warning'),
      );
      return {
        result: undefined,
        audit: {
          action: 'feature.denied',
          target: `tenants/${tenant.spec.name}`,
          principal,
          correlationId: ctx.correlationId,
          details: { feature, tier: tenant.spec.tier, billingId: tenant.spec.billingId, path: ctx.req.path },
        },
      };
    },
  );
  throw new FleetError('PERMISSION_DENIED', message, { details: { feature, tier: tenant.spec.tier } });
}

export async function createTenant(ctx: AuthedContext): Promise<ApiResponse> {
  const { principal } = ctx;
  const body = parseOrThrow(TenantCreateRequestSchema, ctx.req.body ?? {}, 'request body');
  if (body.poolNodes !== undefined && body.tier !== 'dedicated') {
    throw new FleetError('INVALID_ARGUMENT', 'poolNodes applies to the dedicated tier only', {
      issues: [{ path: 'poolNodes', message: `not allowed for tier ${body.tier}` }],
    });
  }
  const { deps } = ctx;
  const now = deps.clock.now().toISOString();
  const path = paths.tenant(body.name);
  const out = await auditedTransaction(
    deps.store,
    () => deps.clock.now(),
    async (tx) => {
      const existing = await tx.get(path);
      if (existing) {
        const cur = parseTenant(existing, path);
        if (cur.desired === 'absent')
          throw new FleetError('CONFLICT', `tenant ${body.name} is being deleted; retry when it is gone`);
        if (cur.spec.tier !== body.tier) {
          throw new FleetError(
            'CONFLICT',
            `tenant ${body.name} exists on tier ${cur.spec.tier}; use \`ffctl tenant upgrade ${body.name} --to standard\` to change tier`,
          );
        }
        return { result: { doc: cur, created: false }, audit: undefined };
      }
      // The schema fills the empty status (no namespace, placements, pool, usage yet).
      const doc = TenantDocSchema.parse({
        spec: {
          name: body.name,
          tier: body.tier,
          billingId: body.billingId ?? `bill-${body.name}`,
          admin: body.admin ?? `admin@${body.name}`,
          poolNodes: body.poolNodes ?? 2,
        },
        generation: 1,
        desired: 'present',
        action: 'apply',
        correlationId: ctx.correlationId,
        createdAt: now,
        createdBy: principal.id,
        updatedAt: now,
        status: { phase: 'Pending', message: 'waiting for the agent' },
      });
      tx.set(path, doc);
      writeTenantEvent(
        tx,
        ctx,
        principal,
        body.name,
        tenantEvent(doc, 'TenantCreated', 'Requested', `tier ${doc.spec.tier} requested`),
      );
      return {
        result: { doc, created: true },
        audit: {
          action: 'tenant.create',
          target: `tenants/${body.name}`,
          principal,
          correlationId: ctx.correlationId,
          details: { tier: body.tier, billingId: doc.spec.billingId },
        },
      };
    },
  );
  // Also for an unchanged repeat: a lost message heals by asking again (level-based).
  await requestReconcile(ctx, body.name, out.created ? 'created' : 'create repeated');
  return json(out.created ? 202 : 200, { created: out.created, tenant: tenantView(out.doc) });
}

export async function listTenants(ctx: AuthedContext): Promise<ApiResponse> {
  const { principal } = ctx;
  const docs = await ctx.deps.store.list(COLLECTIONS.tenants);
  const items = docs
    .map((d) => parseTenant(d.data, d.path))
    .filter((t) => principal.role !== 'tenant-admin' || t.spec.name === principal.tenant)
    .map(tenantView);
  return json(200, { items });
}

export async function getTenant(ctx: AuthedContext): Promise<ApiResponse> {
  requireOwnTenant(ctx.principal, ctx.params.name!);
  return json(200, tenantView(await loadTenant(ctx.deps.store, ctx.params.name!)));
}

/** Bumps the generation for a new action, with its event and audit entry, then asks for a reconcile. */
async function changeTenant(
  ctx: AuthedContext,
  action: 'upgrade' | 'delete',
  mutate: (doc: TenantDoc) => TenantDoc | 'unchanged',
): Promise<ApiResponse> {
  const { principal } = ctx;
  const { deps } = ctx;
  const name = ctx.params.name!;
  const doc = await auditedTransaction(
    deps.store,
    () => deps.clock.now(),
    async (tx) => {
      const cur = await loadTenant(tx, name);
      const next = mutate(cur);
      if (next === 'unchanged') return { result: cur, audit: undefined };
      const updated: TenantDoc = {
        ...next,
        generation: cur.generation + 1,
        action,
        correlationId: ctx.correlationId,
        updatedAt: deps.clock.now().toISOString(),
      };
      tx.set(paths.tenant(name), updated);
      return {
        result: updated,
        audit: {
          action: `tenant.${action}`,
          target: `tenants/${name}`,
          principal,
          correlationId: ctx.correlationId,
          details: { tier: cur.spec.tier, billingId: cur.spec.billingId, generation: updated.generation },
        },
      };
    },
  );
  await requestReconcile(ctx, name, action);
  return json(202, { tenant: tenantView(doc), correlationId: doc.correlationId });
}

export async function upgradeTenant(ctx: AuthedContext): Promise<ApiResponse> {
  const body = parseOrThrow(TenantUpgradeRequestSchema, ctx.req.body ?? {}, 'request body');
  return changeTenant(ctx, 'upgrade', (cur) => {
    if (cur.desired === 'absent') throw new FleetError('CONFLICT', `tenant ${cur.spec.name} is being deleted`);
    if (cur.spec.tier === 'standard' && cur.action === 'upgrade' && cur.status.observedGeneration >= cur.generation) {
      return 'unchanged';
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
    return { ...cur, upgrade: { to: body.to, failAt: body.failAt, requestedAt: ctx.deps.clock.now().toISOString() } };
  });
}

/**
 * A tenant the agent answered Unavailable (no cluster) was never created
 * anywhere: deleting it removes the document at once, as no agent with a
 * cluster will come to decommission it.
 */
async function deleteNeverProvisioned(ctx: AuthedContext): Promise<ApiResponse | undefined> {
  const { principal } = ctx;
  const { deps } = ctx;
  const name = ctx.params.name!;
  return auditedTransaction(
    deps.store,
    () => deps.clock.now(),
    async (tx) => {
      const cur = await loadTenant(tx, name);
      if (cur.status.phase !== 'Unavailable' || cur.status.namespace !== null)
        return { result: undefined, audit: undefined };
      tx.delete(paths.tenant(name));
      writeTenantEvent(
        tx,
        ctx,
        principal,
        name,
        tenantEvent(cur, 'TenantDeleted', 'Deleted', 'never provisioned (no cluster): record removed'),
      );
      return {
        result: json(200, { tenant: tenantView(cur), correlationId: ctx.correlationId }),
        audit: {
          action: 'tenant.delete',
          target: `tenants/${name}`,
          principal,
          correlationId: ctx.correlationId,
          details: { tier: cur.spec.tier, billingId: cur.spec.billingId, neverProvisioned: true },
        },
      };
    },
  );
}

export async function deleteTenant(ctx: AuthedContext): Promise<ApiResponse> {
  const removed = await deleteNeverProvisioned(ctx);
  if (removed) return removed;
  return changeTenant(ctx, 'delete', (cur) =>
    cur.desired === 'absent'
      ? 'unchanged'
      : { ...cur, desired: 'absent', status: { ...cur.status, phase: 'Deleting' } },
  );
}

/**
 * `GET /v1/tenants/{name}/kubeconfig`: the standard tier's kubeconfig, delivered once to the tenant's admin.
 * It is the vcluster's admin credential, so the route takes `tenants:kubeconfig` (not the read-only
 * staff roles); a tenant admin takes only its own tenant's.
 */
export async function fetchKubeconfig(ctx: AuthedContext): Promise<ApiResponse> {
  const { principal } = ctx;
  requireOwnTenant(principal, ctx.params.name!);
  await requireFeature(ctx, principal, 'kubeconfigDelivery');
  const { deps } = ctx;
  const name = ctx.params.name!;
  const kubeconfig = await auditedTransaction(
    deps.store,
    () => deps.clock.now(),
    async (tx) => {
      const cur = await loadTenant(tx, name);
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
      const at = deps.clock.now().toISOString();
      tx.set(paths.tenant(name), {
        ...cur,
        kubeconfig: { pending: null, deliveredAt: at, deliveredTo: principal.id },
        updatedAt: at,
      });
      writeTenantEvent(
        tx,
        ctx,
        principal,
        name,
        tenantEvent(cur, 'KubeconfigDelivered', 'Delivered', `kubeconfig delivered to ${principal.id}`),
      );
      return {
        result: cur.kubeconfig.pending,
        audit: {
          action: 'tenant.kubeconfig.deliver',
          target: `tenants/${name}`,
          principal,
          correlationId: ctx.correlationId,
          details: { tier: cur.spec.tier, billingId: cur.spec.billingId },
        },
      };
    },
  );
  return json(200, { tenant: name, kubeconfig });
}

/** `GET /v1/tenants/{name}/placements`: a premium API (placementHistory). */
export async function listPlacements(ctx: AuthedContext): Promise<ApiResponse> {
  const { principal } = ctx;
  requireOwnTenant(principal, ctx.params.name!);
  await requireFeature(ctx, principal, 'placementHistory');
  const doc = await loadTenant(ctx.deps.store, ctx.params.name!);
  return json(200, { tenant: doc.spec.name, items: doc.status.placements });
}

export async function getFeatureFlags(ctx: AuthedContext): Promise<ApiResponse> {
  return json(200, await readFeatureFlags(ctx.deps.store));
}

/** `PATCH /v1/config/features`: one flag at a time; applies to the next request (no restart). */
export async function patchFeatureFlags(ctx: AuthedContext): Promise<ApiResponse> {
  const { principal } = ctx;
  const body = parseOrThrow(FeatureFlagsPatchSchema, ctx.req.body ?? {}, 'request body');
  const { deps } = ctx;
  const flags = await auditedTransaction(
    deps.store,
    () => deps.clock.now(),
    async (tx) => {
      const data = await tx.get(paths.config('tenant-features'));
      const cur = parseFeatureFlags(data);
      const next: FeatureFlags = {
        tiers: { ...cur.tiers, [body.tier]: { ...cur.tiers[body.tier], [body.feature]: body.enabled } },
      };
      tx.set(paths.config('tenant-features'), {
        ...next,
        updatedAt: deps.clock.now().toISOString(),
        updatedBy: principal.id,
      });
      return {
        result: next,
        audit: {
          action: 'config.features',
          target: 'config/tenant-features',
          principal,
          correlationId: ctx.correlationId,
          details: body,
        },
      };
    },
  );
  return json(200, flags);
}
