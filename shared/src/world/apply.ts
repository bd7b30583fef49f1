import { canonicalJson } from '../core/canonical';
import { FleetError } from '../core/errors';
import type { TenantDoc } from '../tenancy/tenancy';
import type { PlannedEvent } from './events';
import { emptyStats, type WorldDoc } from './model';
import { PLATFORM_TENANT, worldTenant, type WorldManifest, type WorldSpec } from './world';

/** What `PUT /v1/worlds` decides, before anything is written. */
export interface WorldApplyInput {
  /** The stored world, if there is one. */
  current: WorldDoc | undefined;
  manifest: WorldManifest;
  /**
   * The stored document of the tenant the manifest names; undefined when there is none
   * or it does not parse. Not read (and not needed) for the platform tenant.
   */
  tenant: TenantDoc | undefined;
  /** Hash of the canonical spec and labels (the caller hashes: shared imports no crypto). */
  specHash: string;
  now: Date;
  correlationId: string;
}

export type WorldApplyPlan =
  { result: 'unchanged'; world: WorldDoc } | { result: 'created' | 'updated'; world: WorldDoc; event: PlannedEvent };

/**
 * Apply-time rules for `spec.tenant`: it names a tenant that exists (and is not being
 * deleted), and it never changes on a live world (its running cells are billed to it).
 * The platform tenant needs no document.
 */
export function checkWorldTenant(
  spec: Pick<WorldSpec, 'tenant'>,
  current: Pick<WorldDoc, 'spec'> | undefined,
  tenantDoc: TenantDoc | undefined,
): void {
  const tenant = worldTenant(spec);
  if (current && worldTenant(current.spec) !== tenant) {
    throw new FleetError(
      'FAILED_PRECONDITION',
      `spec.tenant cannot change on a live world: its cells are billed to ${worldTenant(current.spec)}`,
      { issues: [{ path: 'spec.tenant', message: 'immutable after creation; delete the world and apply again' }] },
    );
  }
  if (tenant === PLATFORM_TENANT) return;
  if (!tenantDoc || tenantDoc.desired === 'absent') {
    throw new FleetError('FAILED_PRECONDITION', `spec.tenant: tenant ${tenant} does not exist`, {
      issues: [
        {
          path: 'spec.tenant',
          message: `no tenant ${tenant}${tenantDoc ? ' (it is being deleted)' : ''}: create it first (ffctl tenant create ${tenant} --tier …), or leave spec.tenant out for the platform tenant`,
        },
      ],
    });
  }
}

/**
 * Creates or updates a world from its manifest: a world being deleted refuses (409), the
 * topology and tenant are immutable on a live world (412 naming the field), and the same
 * spec and labels again change nothing. An update bumps the generation; the reconciler
 * works toward it.
 */
export function planWorldApply(input: WorldApplyInput): WorldApplyPlan {
  const { current, manifest, now, correlationId, specHash } = input;
  const name = manifest.metadata.name;
  const labels = manifest.metadata.labels ?? {};
  if (current?.deletionRequestedAt) {
    throw new FleetError('CONFLICT', `world ${name} is being deleted; apply again once it is gone`);
  }
  if (current && canonicalJson(current.spec.topology) !== canonicalJson(manifest.spec.topology)) {
    throw new FleetError(
      'FAILED_PRECONDITION',
      'spec.topology cannot change on a live world: its cells own those regions',
      {
        issues: [{ path: 'spec.topology', message: 'immutable after creation; delete the world and apply again' }],
      },
    );
  }
  checkWorldTenant(manifest.spec, current, input.tenant);
  if (current && current.specHash === specHash) return { result: 'unchanged', world: current };

  const iso = now.toISOString();
  const generation = (current?.status.generation ?? 0) + 1;
  const world: WorldDoc = current
    ? {
        ...current,
        spec: manifest.spec,
        labels,
        specHash,
        updatedAt: iso,
        correlationId,
        status: { ...current.status, generation },
      }
    : {
        name,
        labels,
        spec: manifest.spec,
        specHash,
        createdAt: iso,
        updatedAt: iso,
        correlationId,
        status: {
          phase: 'Pending',
          ready: false,
          conditions: [],
          cellsActive: 0,
          routingEpoch: 1,
          generation,
          observedGeneration: 0,
          stats: emptyStats(),
        },
      };
  return {
    result: current ? 'updated' : 'created',
    world,
    event: {
      type: 'WorldApplied',
      cells: [],
      reason: current ? 'Updated' : 'Created',
      message: `generation ${generation}`,
      data: { generation },
    },
  };
}

/**
 * Marks a world for deletion (phase Deleting); the reconciler stops its cells and
 * removes it. Asking again while it is being deleted changes nothing.
 */
export function planWorldDelete(
  world: WorldDoc,
  at: { now: Date; correlationId: string },
): Pick<WorldDoc, 'deletionRequestedAt' | 'correlationId' | 'status' | 'updatedAt'> | 'unchanged' {
  if (world.deletionRequestedAt) return 'unchanged';
  const iso = at.now.toISOString();
  return {
    deletionRequestedAt: iso,
    correlationId: at.correlationId,
    status: { ...world.status, phase: 'Deleting', ready: false },
    updatedAt: iso,
  };
}
