import { fleetErrorFrom } from '../testing/errors';
import { TenantDocSchema, type TenantDoc } from '../tenancy/tenancy';
import { checkWorldTenant, planWorldApply, planWorldDelete, type WorldApplyInput } from './apply';
import { emptyStats, type WorldDoc } from './model';
import { WorldManifestSchema, WorldSpecSchema } from './world';

const NOW = new Date('2026-03-01T10:00:00.000Z');
const EARLIER = '2026-02-01T09:00:00.000Z';

function tenantDoc(name: string, desired: TenantDoc['desired'] = 'present'): TenantDoc {
  return TenantDocSchema.parse({
    spec: { name, tier: 'standard', billingId: `bill-${name}`, admin: `ops@${name}` },
    generation: 1,
    desired,
    action: desired === 'present' ? 'apply' : 'delete',
    correlationId: 'corr',
    createdAt: EARLIER,
    createdBy: 'token:admin',
    updatedAt: EARLIER,
    status: { phase: 'Ready' },
  });
}

const grid = (cols: number) => ({ bounds: { x: 0, y: 0, width: 100, height: 100 }, grid: { cols, rows: 1 } });
const spec = (tenant?: string) =>
  WorldSpecSchema.parse({ ...(tenant === undefined ? {} : { tenant }), topology: grid(1) });

function manifest(over: { tenant?: string; cols?: number; labels?: Record<string, string> } = {}) {
  return WorldManifestSchema.parse({
    apiVersion: 'fleetforge.dev/v1',
    kind: 'World',
    metadata: { name: 'w', ...(over.labels ? { labels: over.labels } : {}) },
    spec: { ...(over.tenant ? { tenant: over.tenant } : {}), topology: grid(over.cols ?? 2) },
  });
}

/** A live world at generation 3, applied from `manifest()` with hash `h1`. */
function live(over: Partial<WorldDoc> = {}): WorldDoc {
  const m = manifest();
  return {
    name: 'w',
    labels: {},
    spec: m.spec,
    specHash: 'h1',
    createdAt: EARLIER,
    updatedAt: EARLIER,
    correlationId: 'corr-old',
    status: {
      phase: 'Ready',
      ready: true,
      conditions: [],
      cellsActive: 2,
      routingEpoch: 4,
      generation: 3,
      observedGeneration: 3,
      stats: emptyStats(),
    },
    ...over,
  };
}

const input = (over: Partial<WorldApplyInput> = {}): WorldApplyInput => ({
  current: undefined,
  manifest: manifest(),
  tenant: undefined,
  specHash: 'h1',
  now: NOW,
  correlationId: 'corr-new',
  ...over,
});

describe('planWorldApply', () => {
  it('creates a Pending world at generation 1, epoch 1, with a Created event', () => {
    const plan = planWorldApply(input({ manifest: manifest({ labels: { team: 'a' } }) }));
    expect(plan.result).toBe('created');
    if (plan.result === 'unchanged') return;
    expect(plan.world).toMatchObject({
      name: 'w',
      labels: { team: 'a' },
      specHash: 'h1',
      createdAt: NOW.toISOString(),
      updatedAt: NOW.toISOString(),
      correlationId: 'corr-new',
      status: { phase: 'Pending', ready: false, generation: 1, observedGeneration: 0, routingEpoch: 1, cellsActive: 0 },
    });
    expect(plan.event).toEqual({
      type: 'WorldApplied',
      cells: [],
      reason: 'Created',
      message: 'generation 1',
      data: { generation: 1 },
    });
  });

  it('updates a live world: next generation, status and creation time kept', () => {
    const current = live();
    const plan = planWorldApply(input({ current, specHash: 'h2', manifest: manifest({ labels: { team: 'b' } }) }));
    expect(plan.result).toBe('updated');
    if (plan.result === 'unchanged') return;
    expect(plan.world.status).toEqual({ ...current.status, generation: 4 });
    expect(plan.world).toMatchObject({ createdAt: EARLIER, updatedAt: NOW.toISOString(), labels: { team: 'b' } });
    expect(plan.event).toMatchObject({ reason: 'Updated', data: { generation: 4 } });
  });

  it('changes nothing when the spec and labels hash the same', () => {
    const current = live();
    expect(planWorldApply(input({ current }))).toEqual({ result: 'unchanged', world: current });
  });

  it.each<[string, Partial<WorldApplyInput>, string, RegExp, string[]]>([
    [
      'a world being deleted',
      { current: live({ deletionRequestedAt: EARLIER }) },
      'CONFLICT',
      /being deleted; apply again once it is gone/,
      [],
    ],
    [
      'a new topology on a live world',
      { current: live(), manifest: manifest({ cols: 4 }), specHash: 'h2' },
      'FAILED_PRECONDITION',
      /spec.topology cannot change/,
      ['spec.topology'],
    ],
    [
      'a tenant that does not exist',
      { manifest: manifest({ tenant: 'nobody' }) },
      'FAILED_PRECONDITION',
      /tenant nobody does not exist/,
      ['spec.tenant'],
    ],
  ])('refuses %s', (_what, over, code, message, paths) => {
    const err = fleetErrorFrom(() => planWorldApply(input(over)));
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
    expect(err.issues.map((i) => i.path)).toEqual(paths);
  });

  it('accepts an existing tenant', () => {
    const plan = planWorldApply(input({ manifest: manifest({ tenant: 'acme' }), tenant: tenantDoc('acme') }));
    expect(plan.result).toBe('created');
  });
});

describe('checkWorldTenant: apply-time rules for spec.tenant', () => {
  const docs: Record<string, TenantDoc> = { acme: tenantDoc('acme'), leaving: tenantDoc('leaving', 'absent') };
  it.each([
    ['a new world of the platform tenant', undefined, undefined, null],
    ['a new world naming the platform tenant (no document needed)', 'platform', undefined, null],
    ['a new world of an existing tenant', 'acme', undefined, null],
    ['the same tenant again', 'acme', 'acme', null],
    ['absent and "platform" are the same tenant', 'platform', null, null],
    [
      'a tenant that does not exist (or whose document does not parse)',
      'nobody',
      undefined,
      /tenant nobody does not exist/,
    ],
    ['a tenant being deleted', 'leaving', undefined, /does not exist.*being deleted/],
    ['a live world moving to another tenant', 'sandbox', 'acme', /cannot change on a live world.*billed to acme/],
    ['a live world of the platform tenant moving to a tenant', 'acme', null, /cannot change.*billed to platform/],
    ['a live world leaving its tenant', undefined, 'acme', /cannot change/],
  ])('%s', (_what, tenant, currentTenant, error) => {
    const current = currentTenant === undefined ? undefined : { spec: spec(currentTenant ?? undefined) };
    const check = () => checkWorldTenant(spec(tenant), current, tenant ? docs[tenant] : undefined);
    if (!error) {
      expect(check()).toBeUndefined();
      return;
    }
    const err = fleetErrorFrom(check);
    expect(err.code).toBe('FAILED_PRECONDITION');
    expect(err.message + ' ' + err.issues.map((i) => i.message).join(' ')).toMatch(error);
    expect(err.issues.map((i) => i.path)).toEqual(['spec.tenant']);
  });
});

describe('planWorldDelete', () => {
  it('marks a live world Deleting, not ready, with the request time and correlation id', () => {
    const patch = planWorldDelete(live(), { now: NOW, correlationId: 'corr-del' });
    expect(patch).toEqual({
      deletionRequestedAt: NOW.toISOString(),
      correlationId: 'corr-del',
      updatedAt: NOW.toISOString(),
      status: { ...live().status, phase: 'Deleting', ready: false },
    });
  });

  it('changes nothing for a world already being deleted', () => {
    expect(planWorldDelete(live({ deletionRequestedAt: EARLIER }), { now: NOW, correlationId: 'c' })).toBe('unchanged');
  });
});
