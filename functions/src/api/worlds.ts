import {
  COLLECTIONS,
  FleetError,
  TOPICS,
  emptyStats,
  WorldManifestSchema,
  paths,
  parseOrThrow,
  type CellDoc,
  type CellView,
  type WorldDoc,
  type WorldView,
} from '@fleetforge/shared';
import { canonicalJson, sha256Hex } from '../canonical';
import { auditedTransaction, writeEvents } from '../store/records';
import { parseWorld, readCellsWithLoads, readWorld } from '../store/world-state';
import { checkWorldTenant } from '../store/tenants';
import { json, type ApiResponse, type AuthedContext, type RouteContext } from './http';

export function worldView(w: WorldDoc): WorldView {
  const s = w.status;
  return {
    name: w.name,
    labels: w.labels,
    spec: w.spec,
    status: {
      phase: s.phase,
      ready: s.ready,
      cellsActive: s.cellsActive,
      routingEpoch: s.routingEpoch,
      generation: s.generation,
      observedGeneration: s.observedGeneration,
      conditions: s.conditions,
      initializedAt: s.initializedAt ?? null,
    },
    createdAt: w.createdAt,
    updatedAt: w.updatedAt,
    correlationId: w.correlationId,
  };
}

export function cellView(c: CellDoc): CellView {
  return {
    id: c.id,
    state: c.state,
    boundary: c.boundary,
    endpoint: c.endpoint,
    sessions: c.load.sessions,
    cpuMillis: c.load.cpuMillis,
    memoryMiB: c.load.memoryMiB,
    parent: c.parent,
    incarnation: c.incarnation,
    readyAt: c.readyAt,
    lastReportAt: c.lastReportAt,
  };
}

/** The manifest the router parsed (YAML or JSON, whichever the client sent; see ./body). */
export function parseManifestBody(ctx: RouteContext): unknown {
  if (ctx.req.body === undefined)
    throw new FleetError('INVALID_ARGUMENT', 'request body is empty: send a World manifest (YAML or JSON)');
  return ctx.req.body;
}

export async function applyWorld(ctx: AuthedContext): Promise<ApiResponse> {
  const { principal } = ctx;
  const manifest = parseOrThrow(WorldManifestSchema, parseManifestBody(ctx), 'World manifest');
  const { deps } = ctx;
  const name = manifest.metadata.name;
  const labels = manifest.metadata.labels ?? {};
  const specHash = sha256Hex(canonicalJson({ spec: manifest.spec, labels }));

  const outcome = await auditedTransaction<{ result: 'created' | 'updated' | 'unchanged'; world: WorldDoc }>(
    deps.store,
    () => deps.clock.now(),
    async (tx) => {
      const current = await readWorld(tx, name);
      const now = deps.clock.now();
      const iso = now.toISOString();
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
      await checkWorldTenant(tx, manifest.spec, current);
      if (current && current.specHash === specHash) {
        return { result: { result: 'unchanged' as const, world: current }, audit: undefined };
      }
      const generation = (current?.status.generation ?? 0) + 1;
      const world: WorldDoc = current
        ? {
            ...current,
            spec: manifest.spec,
            labels,
            specHash,
            updatedAt: iso,
            correlationId: ctx.correlationId,
            status: { ...current.status, generation },
          }
        : {
            name,
            labels,
            spec: manifest.spec,
            specHash,
            createdAt: iso,
            updatedAt: iso,
            correlationId: ctx.correlationId,
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
      tx.set(paths.world(name), world);
      writeEvents(
        tx,
        [
          {
            type: 'WorldApplied',
            cells: [],
            reason: current ? 'Updated' : 'Created',
            message: `generation ${generation}`,
            data: { generation },
          },
        ],
        { world: name, correlationId: ctx.correlationId, principal: principal.id, time: now, ids: deps.ids },
      );
      return {
        result: { result: current ? ('updated' as const) : ('created' as const), world },
        audit: {
          action: current ? 'world.update' : 'world.create',
          target: paths.world(name),
          principal,
          correlationId: ctx.correlationId,
          details: { generation },
        },
      };
    },
  );
  await publishReconcile(ctx, name, `apply:${outcome.result}`);
  return json(outcome.result === 'created' ? 201 : 200, { result: outcome.result, world: worldView(outcome.world) });
}

/** After a commit, a failed publish is not fatal: the sentinel sweep re-queues every world. */
async function publishReconcile(ctx: RouteContext, world: string, reason: string): Promise<void> {
  try {
    await ctx.deps.bus.publish(TOPICS.worldReconcile, { world, reason, correlationId: ctx.correlationId });
  } catch (err) {
    ctx.log.warn({ err: String(err), world }, 'reconcile publish failed; the sentinel sweep will pick the world up');
  }
}

async function mustReadWorld(ctx: RouteContext): Promise<WorldDoc> {
  const name = ctx.params.name!;
  const world = await readWorld(ctx.deps.store, name);
  if (!world) throw new FleetError('NOT_FOUND', `world ${name} not found`);
  return world;
}

export async function getWorld(ctx: AuthedContext): Promise<ApiResponse> {
  return json(200, worldView(await mustReadWorld(ctx)));
}

export async function listWorlds(ctx: AuthedContext): Promise<ApiResponse> {
  const docs = await ctx.deps.store.list(COLLECTIONS.worlds, { orderBy: { field: 'name' } });
  return json(200, { items: docs.map((d) => worldView(parseWorld(d.data, d.id))) });
}

export async function listCells(ctx: AuthedContext): Promise<ApiResponse> {
  const world = await mustReadWorld(ctx);
  const cells = await readCellsWithLoads(ctx.deps.store, world.name);
  return json(200, { items: cells.map(cellView) });
}

export async function deleteWorld(ctx: AuthedContext): Promise<ApiResponse> {
  const { principal } = ctx;
  const name = ctx.params.name!;
  const { deps } = ctx;
  await auditedTransaction(
    deps.store,
    () => deps.clock.now(),
    async (tx) => {
      const world = await readWorld(tx, name);
      if (!world) throw new FleetError('NOT_FOUND', `world ${name} not found`);
      if (world.deletionRequestedAt) return { result: undefined, audit: undefined };
      const now = deps.clock.now();
      tx.update(paths.world(name), {
        deletionRequestedAt: now.toISOString(),
        correlationId: ctx.correlationId,
        status: { ...world.status, phase: 'Deleting', ready: false },
        updatedAt: now.toISOString(),
      });
      return {
        result: undefined,
        audit: { action: 'world.delete', target: paths.world(name), principal, correlationId: ctx.correlationId },
      };
    },
  );
  await publishReconcile(ctx, name, 'delete');
  return json(202, { result: 'deleting', world: name });
}
