import {
  COLLECTIONS,
  FleetError,
  TOPICS,
  WorldManifestSchema,
  canonicalJson,
  paths,
  parseOrThrow,
  planWorldApply,
  planWorldDelete,
  type CellDoc,
  type CellView,
  type WorldApplyPlan,
  type WorldDoc,
  type WorldView,
} from '@fleetforge/shared';
import { sha256Hex } from '../canonical';
import { auditedTransaction, writeEvents } from '../store/records';
import { parseWorld, readCellsWithLoads, readWorld } from '../store/world-state';
import { readWorldTenant } from '../store/tenants';
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
  const { principal, deps } = ctx;
  const manifest = parseOrThrow(WorldManifestSchema, parseManifestBody(ctx), 'World manifest');
  const name = manifest.metadata.name;
  const specHash = sha256Hex(canonicalJson({ spec: manifest.spec, labels: manifest.metadata.labels ?? {} }));

  const plan = await auditedTransaction<WorldApplyPlan>(
    deps.store,
    () => deps.clock.now(),
    async (tx) => {
      const current = await readWorld(tx, name);
      const now = deps.clock.now();
      const plan = planWorldApply({
        current,
        manifest,
        tenant: await readWorldTenant(tx, manifest.spec),
        specHash,
        now,
        correlationId: ctx.correlationId,
      });
      if (plan.result === 'unchanged') return { result: plan, audit: undefined };
      tx.set(paths.world(name), plan.world);
      writeEvents(tx, [plan.event], {
        world: name,
        correlationId: ctx.correlationId,
        principal: principal.id,
        time: now,
        ids: deps.ids,
      });
      return {
        result: plan,
        audit: {
          action: plan.result === 'created' ? 'world.create' : 'world.update',
          target: paths.world(name),
          principal,
          correlationId: ctx.correlationId,
          details: { generation: plan.world.status.generation },
        },
      };
    },
  );
  await publishReconcile(ctx, name, `apply:${plan.result}`);
  return json(plan.result === 'created' ? 201 : 200, { result: plan.result, world: worldView(plan.world) });
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
  const { principal, deps } = ctx;
  const name = ctx.params.name!;
  await auditedTransaction(
    deps.store,
    () => deps.clock.now(),
    async (tx) => {
      const world = await readWorld(tx, name);
      if (!world) throw new FleetError('NOT_FOUND', `world ${name} not found`);
      const patch = planWorldDelete(world, { now: deps.clock.now(), correlationId: ctx.correlationId });
      if (patch === 'unchanged') return { result: undefined, audit: undefined };
      tx.update(paths.world(name), patch);
      return {
        result: undefined,
        audit: { action: 'world.delete', target: paths.world(name), principal, correlationId: ctx.correlationId },
      };
    },
  );
  await publishReconcile(ctx, name, 'delete');
  return json(202, { result: 'deleting', world: name });
}
