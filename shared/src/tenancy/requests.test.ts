import { fleetErrorFrom } from '../testing/errors';
import type { Principal } from '../api/auth';
import { tenantFixture as tenant } from '../testing/fixtures';
import {
  featureDenial,
  parseFeatureFlags,
  planKubeconfigDelivery,
  planTenantCreate,
  planTenantDelete,
  planTenantUpgrade,
  requireOwnTenant,
  setFeatureFlag,
  type RequestStamp,
} from './requests';
import { DEFAULT_FEATURE_FLAGS, TenantCreateRequestSchema, type TenantDoc } from './tenancy';

const NOW = new Date('2026-01-02T00:00:00.000Z');
const AT: RequestStamp = { now: NOW, correlationId: 'corr-req', principal: 'token:ops' };
const create = (body: Record<string, unknown>) => TenantCreateRequestSchema.parse({ name: 'acme', ...body });
const ready = (over: Parameters<typeof tenant>[0] = {}) =>
  tenant({ ...over, status: { phase: 'Ready', observedGeneration: 1, namespace: 'tenant-acme', ...over.status } });

describe('planTenantCreate', () => {
  it('creates a Pending tenant at generation 1 with defaults and a TenantCreated event', () => {
    const plan = planTenantCreate(undefined, create({ tier: 'standard' }), AT);
    expect(plan.result).toBe('created');
    if (plan.result !== 'created') return;
    expect(plan.doc).toMatchObject({
      spec: { name: 'acme', tier: 'standard', billingId: 'bill-acme', admin: 'admin@acme', poolNodes: 2 },
      generation: 1,
      desired: 'present',
      action: 'apply',
      correlationId: 'corr-req',
      createdAt: NOW.toISOString(),
      createdBy: 'token:ops',
      status: { phase: 'Pending', message: 'waiting for the agent', namespace: null },
    });
    expect(plan.event).toMatchObject({
      type: 'TenantCreated',
      reason: 'Requested',
      data: { tenant: 'acme', tier: 'standard', billingId: 'bill-acme' },
    });
  });

  it('keeps the billing id, admin and pool size it was given', () => {
    const plan = planTenantCreate(
      undefined,
      create({ tier: 'dedicated', billingId: 'b-9', admin: 'x@y', poolNodes: 3 }),
      AT,
    );
    expect(plan.doc.spec).toEqual({ name: 'acme', tier: 'dedicated', billingId: 'b-9', admin: 'x@y', poolNodes: 3 });
  });

  it('returns the stored tenant for the same name and tier (an idempotent repeat)', () => {
    const existing = ready();
    expect(planTenantCreate(existing, create({ tier: 'dev' }), AT)).toEqual({ result: 'existing', doc: existing });
  });

  it.each<[string, TenantDoc | undefined, Record<string, unknown>, string, RegExp, string[]]>([
    [
      'poolNodes on a shared tier',
      undefined,
      { tier: 'standard', poolNodes: 3 },
      'INVALID_ARGUMENT',
      /dedicated tier only/,
      ['poolNodes'],
    ],
    ['a tenant being deleted', tenant({ desired: 'absent' }), { tier: 'dev' }, 'CONFLICT', /being deleted; retry/, []],
    [
      'another tier',
      tenant(),
      { tier: 'standard' },
      'CONFLICT',
      /exists on tier dev; use `ffctl tenant upgrade acme/,
      [],
    ],
  ])('refuses %s', (_what, existing, body, code, message, paths) => {
    const err = fleetErrorFrom(() => planTenantCreate(existing, create(body), AT));
    expect([err.code, err.issues.map((i) => i.path)]).toEqual([code, paths]);
    expect(err.message).toMatch(message);
  });
});

describe('planTenantUpgrade', () => {
  const to = { to: 'standard' as const };

  it('asks for a new generation from a Ready dev tenant, recording the request', () => {
    const plan = planTenantUpgrade(ready(), { ...to, failAt: 'validate' }, AT);
    expect(plan).toMatchObject({
      result: 'changed',
      action: 'upgrade',
      doc: {
        generation: 2,
        action: 'upgrade',
        correlationId: 'corr-req',
        updatedAt: NOW.toISOString(),
        upgrade: { to: 'standard', failAt: 'validate', requestedAt: NOW.toISOString() },
        spec: { tier: 'dev' },
      },
    });
  });

  it('changes nothing once the upgrade is done', () => {
    const done = ready({
      spec: { tier: 'standard' },
      action: 'upgrade',
      generation: 2,
      status: { observedGeneration: 2 },
    });
    expect(planTenantUpgrade(done, to, AT)).toEqual({ result: 'unchanged', doc: done });
  });

  it.each<[string, TenantDoc, string, RegExp]>([
    ['a tenant being deleted', ready({ desired: 'absent' }), 'CONFLICT', /being deleted/],
    ['a dedicated tenant', ready({ spec: { tier: 'dedicated' } }), 'FAILED_PRECONDITION', /only dev tenants upgrade/],
    ['a standard tenant not yet upgraded', ready({ spec: { tier: 'standard' } }), 'FAILED_PRECONDITION', /is standard/],
    [
      'a dev tenant still Provisioning',
      tenant({ status: { phase: 'Provisioning' } }),
      'FAILED_PRECONDITION',
      /is Provisioning/,
    ],
    [
      'a Ready dev tenant with a newer generation in flight',
      ready({ generation: 2 }),
      'FAILED_PRECONDITION',
      /starts from a Ready dev tenant/,
    ],
  ])('refuses %s', (_what, cur, code, message) => {
    const err = fleetErrorFrom(() => planTenantUpgrade(cur, to, AT));
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
  });
});

describe('planTenantDelete', () => {
  it('asks the agent to decommission (Deleting, next generation)', () => {
    expect(planTenantDelete(ready(), AT)).toMatchObject({
      result: 'changed',
      action: 'delete',
      doc: { desired: 'absent', generation: 2, action: 'delete', status: { phase: 'Deleting' } },
    });
  });

  it('changes nothing for a tenant already being deleted', () => {
    const leaving = ready({ desired: 'absent', status: { phase: 'Deleting' } });
    expect(planTenantDelete(leaving, AT)).toEqual({ result: 'unchanged', doc: leaving });
  });

  it.each([
    ['present', 'present' as const],
    ['already being deleted', 'absent' as const],
  ])('removes the record of a tenant never provisioned (Unavailable, no namespace) %s', (_what, desired) => {
    const never = tenant({ desired, status: { phase: 'Unavailable', namespace: null } });
    expect(planTenantDelete(never, AT)).toMatchObject({
      result: 'removed',
      event: { type: 'TenantDeleted', message: 'never provisioned (no cluster): record removed' },
    });
  });

  it('decommissions an Unavailable tenant that has a namespace', () => {
    const partly = tenant({ status: { phase: 'Unavailable', namespace: 'tenant-acme' } });
    expect(planTenantDelete(partly, AT).result).toBe('changed');
  });
});

describe('planKubeconfigDelivery', () => {
  it('hands the pending kubeconfig out once and records to whom', () => {
    const plan = planKubeconfigDelivery(ready({ kubeconfig: { pending: 'apiVersion: v1' } }), AT);
    expect(plan.kubeconfig).toBe('apiVersion: v1');
    expect(plan.doc.kubeconfig).toEqual({ pending: null, deliveredAt: NOW.toISOString(), deliveredTo: 'token:ops' });
    expect(plan.event).toMatchObject({ type: 'KubeconfigDelivered', message: 'kubeconfig delivered to token:ops' });
  });

  it.each<[string, TenantDoc, RegExp]>([
    [
      'twice',
      ready({ kubeconfig: { deliveredAt: '2026-01-01T05:00:00.000Z', deliveredTo: 'token:a' } }),
      /delivered at 2026-01-01T05:00:00.000Z to token:a; it is handed out once/,
    ],
    ['before there is one', tenant(), /has no kubeconfig yet \(phase Pending, tier dev\)/],
  ])('refuses %s', (_what, cur, message) => {
    const err = fleetErrorFrom(() => planKubeconfigDelivery(cur, AT));
    expect(err.code).toBe('FAILED_PRECONDITION');
    expect(err.message).toMatch(message);
  });
});

describe('requireOwnTenant', () => {
  const principal = (role: Principal['role'], tenantName?: string): Principal =>
    ({ id: `token:${role}`, name: role, role, ...(tenantName ? { tenant: tenantName } : {}) }) as Principal;
  it.each<[string, Principal, boolean]>([
    ['platform staff see any tenant', principal('admin'), true],
    ['a tenant admin sees its own', principal('tenant-admin', 'acme'), true],
    ['a tenant admin does not see another', principal('tenant-admin', 'other'), false],
    ['a tenant admin without a tenant sees none', principal('tenant-admin'), false],
  ])('%s', (_what, p, allowed) => {
    const run = () => requireOwnTenant(p, 'acme');
    if (allowed) expect(run()).toBeUndefined();
    else expect(fleetErrorFrom(run).code).toBe('PERMISSION_DENIED');
  });
});

describe('feature flags', () => {
  it('fills features missing from the stored document with the defaults', () => {
    const flags = parseFeatureFlags({ tiers: { dev: { placementHistory: true } } });
    expect(flags.tiers.dev).toEqual({ ...DEFAULT_FEATURE_FLAGS.tiers.dev, placementHistory: true });
    expect(flags.tiers.standard).toEqual(DEFAULT_FEATURE_FLAGS.tiers.standard);
    expect(parseFeatureFlags(undefined)).toEqual(DEFAULT_FEATURE_FLAGS);
  });

  it('calls a stored document that does not parse the platform’s fault (INTERNAL)', () => {
    const err = fleetErrorFrom(() => parseFeatureFlags({ tiers: { dev: { placementHistory: 'yes' } } }));
    expect(err.code).toBe('INTERNAL');
    expect(err.message).toMatch(/config\/tenant-features is invalid/);
  });

  it('sets one flag of one tier', () => {
    const next = setFeatureFlag(DEFAULT_FEATURE_FLAGS, { tier: 'dev', feature: 'manualScaling', enabled: true });
    expect(next.tiers.dev.manualScaling).toBe(true);
    expect({ ...next.tiers.dev, manualScaling: false }).toEqual(DEFAULT_FEATURE_FLAGS.tiers.dev);
    expect(next.tiers.standard).toEqual(DEFAULT_FEATURE_FLAGS.tiers.standard);
  });

  it.each([
    ['standard', 'kubeconfigDelivery', null],
    [
      'dev',
      'placementHistory',
      'placementHistory is not available on the dev tier (available on: standard, dedicated)',
    ],
    ['standard', 'dedicatedPool', 'dedicatedPool is not available on the standard tier (available on: dedicated)'],
  ] as const)('%s / %s', (tier, feature, message) => {
    const denial = featureDenial(DEFAULT_FEATURE_FLAGS, tier, feature);
    if (message === null) expect(denial).toBeNull();
    else expect(denial).toBe(`${message}; upgrade the tenant to use it`);
  });

  it('names no tier when none has the feature', () => {
    const off = setFeatureFlag(
      setFeatureFlag(DEFAULT_FEATURE_FLAGS, { tier: 'dedicated', feature: 'dedicatedPool', enabled: false }),
      { tier: 'dev', feature: 'dedicatedPool', enabled: false },
    );
    expect(featureDenial(off, 'dev', 'dedicatedPool')).toMatch(/available on: no tier/);
  });
});
