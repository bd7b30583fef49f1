import { z } from 'zod';
import {
  COLLECTIONS,
  FleetError,
  ScalingSchema,
  TOPICS,
  beginManualMerge,
  beginManualSplit,
  effectiveScaling,
  isLiveCell,
  newOpContext,
  parseOrThrow,
  paths,
  planScalingConfig,
  type BeginOptions,
  type OpContext,
  type OperationDoc,
  type RoutingTable,
  type ScalingInput,
  type Transaction,
  type WorldState,
} from '@fleetforge/shared';
import { writeEvents, auditedTransaction } from '../store/records';
import { parseWorld, readOverrides, readWorldState, writeCell } from '../store/world-state';
import { publishCommands, reconcileWorld } from '../usecases/reconcile-world';
import { json, type ApiResponse, type AuthedContext, type RouteContext } from './http';

export const SplitRequestSchema = z.strictObject({
  reason: z.string().max(200).default('manual split'),
  /** Test switch: the children never become ready, so the split rolls back (rollback drills). */
  testChildrenNeverReady: z.boolean().default(false),
});
export const MergeRequestSchema = z.strictObject({
  cells: z.array(z.string().min(1)).min(2).max(16),
  reason: z.string().max(200).default('manual merge'),
});
export const ConfigPatchSchema = z.strictObject({
  /** Keys to set, e.g. `{ "splitSessions": 600 }`. */
  set: z.record(z.string(), z.unknown()).default({}),
  /** Keys to drop back to each world's spec. */
  unset: z.array(z.string()).default([]),
});

/** `GET /v1/worlds/{name}/routing`: the cells that own their region now, and the epoch. */
export async function getRouting(ctx: AuthedContext): Promise<ApiResponse> {
  const state = await mustState(ctx, ctx.deps.store);
  const table: RoutingTable = {
    world: state.world.name,
    epoch: state.world.status.routingEpoch,
    bounds: state.world.spec.topology.bounds,
    cells: state.cells
      .filter((c) => c.routable && c.endpoint && isLiveCell(c))
      .map((c) => ({ id: c.id, boundary: c.boundary, endpoint: c.endpoint! })),
  };
  return json(200, table);
}

export async function listOperations(ctx: AuthedContext): Promise<ApiResponse> {
  const state = await mustState(ctx, ctx.deps.store);
  return json(200, { items: state.operations });
}

async function mustState(ctx: RouteContext, tx: Pick<Transaction, 'get' | 'list'>): Promise<WorldState> {
  const state = await readWorldState(tx, ctx.params.name!, ctx.deps.store);
  if (!state) throw new FleetError('NOT_FOUND', `world ${ctx.params.name} not found`);
  if (state.world.deletionRequestedAt) throw new FleetError('CONFLICT', `world ${state.world.name} is being deleted`);
  return state;
}

/**
 * Writes a manual operation and everything its first step changes, in the same
 * audited transaction; then publishes the commands through a reconcile.
 */
async function startManual(
  ctx: AuthedContext,
  action: string,
  begin: (c: OpContext, input: ScalingInput, opts: BeginOptions) => OperationDoc,
): Promise<ApiResponse> {
  const { principal, deps } = ctx;
  const { op, world, commands } = await auditedTransaction(
    deps.store,
    () => deps.clock.now(),
    async (tx) => {
      const state = await mustState(ctx, tx);
      const now = deps.clock.now();
      const c = newOpContext(state.world, state.cells, now);
      const scaling = effectiveScaling(state.world, state.overrides);
      const created = begin(
        c,
        { scaling, capacity: state.world.spec.capacity, cells: state.cells, operations: state.operations, now: c.now },
        {
          id: deps.ids.next('op'),
          cause: 'ManualOverride',
          principal: principal.id,
          correlationId: ctx.correlationId,
          readinessTimeoutSeconds: scaling.readinessTimeoutSeconds,
          reason: action,
        },
      );
      const existing = new Set(state.cells.map((x) => x.id));
      for (const id of c.changed) writeCell(tx, existing.has(id), c.cells.get(id)!);
      tx.set(paths.operation(state.world.name, created.id), created);
      // Reconcile passes commit only if the world is as they read it: this change must refuse them.
      tx.update(paths.world(state.world.name), { revision: (state.world.revision ?? 0) + 1 });
      writeEvents(tx, c.events, {
        world: state.world.name,
        correlationId: created.correlationId,
        principal: principal.id,
        time: now,
        ids: deps.ids,
      });
      return {
        result: { op: created, world: state.world, commands: { start: c.start, stop: c.stop, handoff: c.handoff } },
        audit: {
          action,
          target: paths.operation(state.world.name, created.id),
          principal,
          correlationId: created.correlationId,
          details: { sources: created.sources, targets: created.targets.map((t) => t.id), reason: created.reason },
        },
      };
    },
  );
  await publishCommands(deps, world, [op], commands, world.status.routingEpoch);
  await reconcileWorld(
    deps,
    { world: op.world, reason: `${action}:${op.id}`, correlationId: op.correlationId },
    ctx.log,
  ).catch(async (err: unknown) => {
    ctx.log.warn({ err: String(err) }, 'inline reconcile failed; queueing one');
    await deps.bus.publish(TOPICS.worldReconcile, { world: op.world, reason: action, correlationId: op.correlationId });
  });
  return json(202, { operation: op });
}

export async function splitCell(ctx: AuthedContext): Promise<ApiResponse> {
  const body = parseOrThrow(SplitRequestSchema, ctx.req.body ?? {}, 'request body');
  return startManual(ctx, 'cell.split', (c, input, opts) =>
    beginManualSplit(c, input, ctx.params.cell!, {
      ...opts,
      reason: body.reason,
      testNeverReady: body.testChildrenNeverReady,
    }),
  );
}

export async function mergeCells(ctx: AuthedContext): Promise<ApiResponse> {
  const body = parseOrThrow(MergeRequestSchema, ctx.req.body ?? {}, 'request body');
  return startManual(ctx, 'cell.merge', (c, input, opts) =>
    beginManualMerge(c, input, body.cells, { ...opts, reason: body.reason }),
  );
}

export async function getConfig(ctx: AuthedContext): Promise<ApiResponse> {
  const data = (await ctx.deps.store.get(paths.config('scaling'))) ?? {};
  return json(200, {
    overrides: await readOverrides(ctx.deps.store),
    defaults: ScalingSchema.parse({}),
    version: typeof data.version === 'number' ? data.version : 0,
    updatedAt: data.updatedAt ?? null,
    updatedBy: data.updatedBy ?? null,
  });
}

/**
 * `PATCH /v1/config/scaling`: live thresholds. Validated key by key (400 naming
 * `scaling.<key>`) and against every world (a merge threshold must stay below the
 * split threshold it would be combined with); a `ConfigReload` event names the
 * changed keys. Reconciles read the doc each pass, so the change applies at the
 * next one (within a second while cells report load).
 */
export async function patchConfig(ctx: AuthedContext): Promise<ApiResponse> {
  const { principal } = ctx;
  const body = parseOrThrow(ConfigPatchSchema, ctx.req.body ?? {}, 'request body');
  const { deps } = ctx;
  const result = await auditedTransaction(
    deps.store,
    () => deps.clock.now(),
    async (tx) => {
      const current = await readOverrides(tx);
      const worlds = (await tx.list(COLLECTIONS.worlds)).map((d) => parseWorld(d.data, d.id));
      const old = (await tx.get(paths.config('scaling'))) ?? {};
      const plan = planScalingConfig(current, body, worlds, typeof old.version === 'number' ? old.version : 0);
      const { overrides, version, changedKeys } = plan;
      const now = deps.clock.now();
      if (plan.event) {
        tx.set(paths.config('scaling'), { overrides, version, updatedAt: now.toISOString(), updatedBy: principal.id });
        writeEvents(tx, [plan.event], {
          world: null,
          correlationId: ctx.correlationId,
          principal: principal.id,
          time: now,
          ids: deps.ids,
        });
      }
      return {
        result: { overrides, version, changedKeys },
        audit: plan.event
          ? {
              action: 'config.update',
              target: paths.config('scaling'),
              principal,
              correlationId: ctx.correlationId,
              details: { changed: changedKeys.map((k) => k.replace(/^scaling\./, '')) },
            }
          : undefined,
      };
    },
  );
  return json(200, result);
}
