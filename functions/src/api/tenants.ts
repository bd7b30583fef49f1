import {
  COLLECTIONS,
  FeatureFlagsPatchSchema,
  FleetError,
  TOPICS,
  TenantCreateRequestSchema,
  TenantUpgradeRequestSchema,
  featureDenial,
  parseFeatureFlags,
  parseOrThrow,
  paths,
  planKubeconfigDelivery,
  planTenantCreate,
  planTenantDelete,
  planTenantUpgrade,
  requireOwnTenant,
  setFeatureFlag,
  tenantEvent,
  tenantView,
  type Feature,
  type FeatureFlags,
  type PlannedEvent,
  type Principal,
  type RequestStamp,
  type StateStore,
  type TenantChangePlan,
  type TenantCreatePlan,
  type TenantDoc,
  type Transaction,
} from '@fleetforge/shared';
import { parseTenant } from '../store/tenants';
import { auditedTransaction, writeEvents } from '../store/records';
import { json, type ApiResponse, type AuthedContext, type RouteContext } from './http';

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

export async function readFeatureFlags(store: StateStore): Promise<FeatureFlags> {
  return parseFeatureFlags(await store.get(paths.config('tenant-features')));
}

/** Who asks, and when, for the planners. */
function stamp(ctx: AuthedContext): RequestStamp {
  return { now: ctx.deps.clock.now(), correlationId: ctx.correlationId, principal: ctx.principal.id };
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
  const message = featureDenial(await readFeatureFlags(deps.store), tenant.spec.tier, feature);
  if (message === null) return;
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
  const { principal, deps } = ctx;
  const body = parseOrThrow(TenantCreateRequestSchema, ctx.req.body ?? {}, 'request body');
  const path = paths.tenant(body.name);
  const plan = await auditedTransaction<TenantCreatePlan>(
    deps.store,
    () => deps.clock.now(),
    async (tx) => {
      const existing = await tx.get(path);
      const plan = planTenantCreate(existing ? parseTenant(existing, path) : undefined, body, stamp(ctx));
      if (plan.result === 'existing') return { result: plan, audit: undefined };
      tx.set(path, plan.doc);
      writeTenantEvent(tx, ctx, principal, body.name, plan.event);
      return {
        result: plan,
        audit: {
          action: 'tenant.create',
          target: `tenants/${body.name}`,
          principal,
          correlationId: ctx.correlationId,
          details: { tier: body.tier, billingId: plan.doc.spec.billingId },
        },
      };
    },
  );
  const created = plan.result === 'created';
  // Also for an unchanged repeat: a lost message heals by asking again (level-based).
  await requestReconcile(ctx, body.name, created ? 'created' : 'create repeated');
  return json(created ? 202 : 200, { created, tenant: tenantView(plan.doc) });
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

/**
 * Runs an upgrade or delete planner in an audited transaction: a new generation is
 * written and the agent asked to reconcile; a removed record is deleted with its event.
 */
async function changeTenant(ctx: AuthedContext, plan: (cur: TenantDoc) => TenantChangePlan): Promise<ApiResponse> {
  const { principal, deps } = ctx;
  const name = ctx.params.name!;
  const out = await auditedTransaction<TenantChangePlan>(
    deps.store,
    () => deps.clock.now(),
    async (tx) => {
      const cur = await loadTenant(tx, name);
      const p = plan(cur);
      if (p.result === 'unchanged') return { result: p, audit: undefined };
      const audit = {
        action: 'tenant.delete',
        target: `tenants/${name}`,
        principal,
        correlationId: ctx.correlationId,
        details: { tier: cur.spec.tier, billingId: cur.spec.billingId } as Record<string, unknown>,
      };
      if (p.result === 'removed') {
        tx.delete(paths.tenant(name));
        writeTenantEvent(tx, ctx, principal, name, p.event);
        return { result: p, audit: { ...audit, details: { ...audit.details, neverProvisioned: true } } };
      }
      tx.set(paths.tenant(name), p.doc);
      return {
        result: p,
        audit: { ...audit, action: `tenant.${p.action}`, details: { ...audit.details, generation: p.doc.generation } },
      };
    },
  );
  if (out.result === 'removed') return json(200, { tenant: tenantView(out.doc), correlationId: ctx.correlationId });
  await requestReconcile(ctx, name, out.result === 'changed' ? out.action : 'repeated');
  return json(202, { tenant: tenantView(out.doc), correlationId: out.doc.correlationId });
}

export async function upgradeTenant(ctx: AuthedContext): Promise<ApiResponse> {
  const body = parseOrThrow(TenantUpgradeRequestSchema, ctx.req.body ?? {}, 'request body');
  return changeTenant(ctx, (cur) => planTenantUpgrade(cur, body, stamp(ctx)));
}

export async function deleteTenant(ctx: AuthedContext): Promise<ApiResponse> {
  return changeTenant(ctx, (cur) => planTenantDelete(cur, stamp(ctx)));
}

/**
 * `GET /v1/tenants/{name}/kubeconfig`: the standard tier's kubeconfig, delivered once to the tenant's admin.
 * It is the vcluster's admin credential, so the route takes `tenants:kubeconfig` (not the read-only
 * staff roles); a tenant admin takes only its own tenant's.
 */
export async function fetchKubeconfig(ctx: AuthedContext): Promise<ApiResponse> {
  const { principal, deps } = ctx;
  const name = ctx.params.name!;
  requireOwnTenant(principal, name);
  await requireFeature(ctx, principal, 'kubeconfigDelivery');
  const kubeconfig = await auditedTransaction(
    deps.store,
    () => deps.clock.now(),
    async (tx) => {
      const cur = await loadTenant(tx, name);
      const plan = planKubeconfigDelivery(cur, stamp(ctx));
      tx.set(paths.tenant(name), plan.doc);
      writeTenantEvent(tx, ctx, principal, name, plan.event);
      return {
        result: plan.kubeconfig,
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
  const { principal, deps } = ctx;
  const body = parseOrThrow(FeatureFlagsPatchSchema, ctx.req.body ?? {}, 'request body');
  const flags = await auditedTransaction(
    deps.store,
    () => deps.clock.now(),
    async (tx) => {
      const next: FeatureFlags = setFeatureFlag(parseFeatureFlags(await tx.get(paths.config('tenant-features'))), body);
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
