import {
  AgentCommandSchema,
  FleetError,
  TOPICS,
  applyReports,
  batchWriter,
  isDegraded,
  isEmptyTick,
  keptCells,
  oldestActiveOperationSeconds,
  servingCells,
  paths,
  planTick,
  sleep,
  warmPoolSize,
  type AgentCommand,
  type AgentReport,
  type CellDoc,
  type LoadDoc,
  type ReportsApplied,
  type TickPlan,
  type TransactionWrites,
  type OperationDoc,
  type WorldDoc,
  type WorldReconcileMessage,
  type WorldState,
  type WriteOp,
} from '@fleetforge/shared';
import type { Deps } from '../deps';
import type { Outcome } from '../pubsub-handler';
import { writeEvents } from '../store/records';
import { readWorldStateVersioned, snapshotAfter, writeCell, type WorldSnapshot } from '../store/world-state';
import { cellBilling } from '../store/tenants';

const PRINCIPAL = 'system:reconcileWorld';

/** How long a hand-off or drain may take before its command is sent again. */
const STEP_TIMEOUT_MS = 10_000;

/** Optimistic commits a pass tries before it throws (retryable: Pub/Sub delivers it again). */
const MAX_COMMIT_ATTEMPTS = 8;

/**
 * Makes a pass's writes conditional on the world document being as the pass read it,
 * and bumps its `revision` so a concurrent pass that read the same version is refused.
 */
export function conditionalOnWorld(
  ops: readonly WriteOp[],
  worldPath: string,
  version: string,
  revision: number | undefined,
): WriteOp[] {
  const bump = { revision: (revision ?? 0) + 1 };
  let guarded = false;
  const out = ops.map((op): WriteOp => {
    if (op.path !== worldPath || guarded) return op;
    if (op.op === 'update') {
      guarded = true;
      return { ...op, patch: { ...op.patch, ...bump }, ifVersion: version };
    }
    if (op.op === 'delete') {
      guarded = true;
      return { ...op, ifVersion: version };
    }
    return op;
  });
  return guarded ? out : [...out, { op: 'update', path: worldPath, patch: bump, ifVersion: version }];
}

/**
 * Load the world, its cells, operations and live config; ask the pure planner
 * (`planTick`) what to do; persist the plan in one batch, conditional on the world
 * being as read (see `conditionalOnWorld`); then publish the agent commands. Commands
 * go out after the commit, so a crash in between leaves docs saying what was
 * requested, and a later reconcile re-sends it.
 *
 * Most reconciles find nothing to do (metrics arrive every second, reports come in
 * bursts): those read and write nothing. No pass holds locks: a transaction over
 * every cell of the world would stall every other pass and handler writing them.
 */
export function reconcileWorld(deps: Deps, msg: WorldReconcileMessage, log: Deps['log']): Promise<Outcome> {
  return reconcileWithReports(deps, msg, log, []);
}

/**
 * Queues reports for the world's next pass in this instance without asking for one:
 * `started` only records that a cell process exists, which no decision waits on, and a
 * pass of its own per start cost every `ready` behind it a turn (the emulator pushes one
 * message at a time). The world's next report in this instance applies it; one lost with
 * its instance costs nothing a decision reads.
 */
export function deferReports(deps: Deps, world: string, reports: readonly AgentReport[]): void {
  let queue = pending.get(deps);
  if (!queue) pending.set(deps, (queue = new Map<string, AgentReport[]>()));
  queue.set(world, [...(queue.get(world) ?? []), ...reports]);
}

/** A reconcile pass that also applies these agent reports, with any others queued for it. */
export function reconcileWithReports(
  deps: Deps,
  msg: WorldReconcileMessage,
  log: Deps['log'],
  reports: readonly AgentReport[],
): Promise<Outcome> {
  deferReports(deps, msg.world, reports);
  return singleFlight(deps, msg.world, () => {
    // Every report queued until this pass starts is applied by it (in its one transaction).
    const queue = pending.get(deps)!;
    const batch = queue.get(msg.world) ?? [];
    queue.delete(msg.world);
    return reconcileOnce(deps, msg, log, batch);
  });
}

/** Agent reports waiting for the next pass of their world, per instance. */
const pending = new WeakMap<Deps, Map<string, AgentReport[]>>();

/** Load documents this instance just wrote, per world, for its next pass to use instead of reading them. */
const knownLoads = new WeakMap<Deps, Map<string, ReadonlyMap<string, LoadDoc>>>();

/** What this instance last read or wrote of each world's cells and operations (see `WorldSnapshot`). */
const snapshots = new WeakMap<Deps, Map<string, WorldSnapshot>>();

/** The snapshot this instance's next pass of `world` starts from (tests compare it with a fresh read). */
export function knownSnapshot(deps: Deps, world: string): WorldSnapshot | undefined {
  return snapshots.get(deps)?.get(world);
}

function keepSnapshot(deps: Deps, world: string, snapshot: WorldSnapshot | undefined): void {
  let perDeps = snapshots.get(deps);
  if (!perDeps) snapshots.set(deps, (perDeps = new Map<string, WorldSnapshot>()));
  if (snapshot) perDeps.set(world, snapshot);
  else perDeps.delete(world);
}

/**
 * Hands the world's next pass in this instance the load documents as just written
 * (ingestMetrics read them all and wrote the changed ones): at 64 cells the loads are
 * most of what a pass reads, and reading back what was written a moment ago buys nothing.
 */
export function rememberLoads(deps: Deps, world: string, loads: ReadonlyMap<string, LoadDoc>): void {
  let perDeps = knownLoads.get(deps);
  if (!perDeps) knownLoads.set(deps, (perDeps = new Map<string, ReadonlyMap<string, LoadDoc>>()));
  perDeps.set(world, loads);
}

interface Flight {
  /** The pass that will see everything asked so far. */
  next: Promise<Outcome>;
  queued: boolean;
}

const flights = new WeakMap<Deps, Map<string, Flight>>();

/**
 * One reconcile per world at a time in this instance; requests arriving while one
 * runs share a single follow-up pass. A burst of reports (16 cells becoming ready)
 * becomes two passes instead of sixteen transactions aborting each other. Level-based
 * reconciling makes this safe: the follow-up reads the state as it is then.
 */
function singleFlight(deps: Deps, world: string, run: () => Promise<Outcome>): Promise<Outcome> {
  let perDeps = flights.get(deps);
  if (!perDeps) flights.set(deps, (perDeps = new Map<string, Flight>()));
  const current = perDeps.get(world);
  if (current?.queued) return current.next;
  const start = (after: Promise<unknown>): Flight => {
    const flight: Flight = { next: undefined as unknown as Promise<Outcome>, queued: true };
    flight.next = after.then(
      () => {
        flight.queued = false;
        return run();
      },
      () => {
        flight.queued = false;
        return run();
      },
    );
    void flight.next.then(
      () => perDeps.get(world) === flight && perDeps.delete(world),
      () => perDeps.get(world) === flight && perDeps.delete(world),
    );
    perDeps.set(world, flight);
    return flight;
  };
  return start(current ? current.next : Promise.resolve()).next;
}

async function reconcileOnce(
  deps: Deps,
  msg: WorldReconcileMessage,
  log: Deps['log'],
  reports: readonly AgentReport[],
): Promise<Outcome> {
  const started = performance.now();
  const opts = {
    resendAfterMs: deps.resendAfterMs,
    staleAfterMs: deps.staleAfterMs,
    stepTimeoutMs: STEP_TIMEOUT_MS,
    newId: (prefix: string) => deps.ids.next(prefix),
  };
  let attempts = 0;
  let readMs = 0;
  let commitMs = 0;
  let result: { state: WorldState; plan: TickPlan; reported: ReportsApplied } | undefined;
  let cachedReads = 0;
  const loads = knownLoads.get(deps)?.get(msg.world);
  knownLoads.get(deps)?.delete(msg.world);
  while (!result) {
    attempts += 1;
    const readStart = performance.now();
    // A retry reads everything: another writer came first.
    const read = await readWorldStateVersioned(deps.store, msg.world, deps.clock.now(), {
      loads: attempts === 1 ? loads : undefined,
      snapshot: knownSnapshot(deps, msg.world),
      check: deps.checkSnapshots,
    });
    readMs += performance.now() - readStart;
    if (!read) {
      keepSnapshot(deps, msg.world, undefined);
      log.debug({ world: msg.world, reports: reports.length }, 'world gone; nothing to reconcile');
      return 'stale';
    }
    const { version, snapshot, fromSnapshot, ...state } = read;
    keepSnapshot(deps, msg.world, snapshot);
    if (fromSnapshot) cachedReads += 1;
    // The periodic sweep also asks the agent to confirm the cells it should run: a cell that
    // vanished while nobody watched (its agent was down, say) is found this way, by evidence.
    if (msg.reason === 'sentinel' && attempts === 1)
      await publishSync(
        deps,
        state.world.name,
        servingCells(state.cells),
        keptCells(state.cells),
        warmPoolSize(state.world.spec),
        msg.correlationId,
        state.world.createdAt,
      );
    const now = deps.clock.now();
    const reported = applyReports(state.cells, reports, now);
    const after: WorldState = { ...state, cells: reported.cells };
    const plan = planTick(after, now, opts);
    if (reported.changed.size === 0 && isEmptyTick(plan)) {
      logStale(log, reported.stale);
      log.debug({ world: msg.world, reason: msg.reason }, 'nothing to do');
      setOldestOperationAge(deps, msg.world, state.operations);
      deps.metrics.observe('fleetforge_reconcile_duration_seconds', (performance.now() - started) / 1000);
      // Asked only to apply reports, none of which changed anything: duplicates or late ones.
      return reports.length > 0 && msg.reason.startsWith('report') ? 'stale' : 'ok';
    }
    // An optimistic commit, not a transaction: one batch, on the condition that the world
    // is still as read. Passes of one world in different instances (metrics, reports, the
    // sweep) would otherwise hold each other's locks; on the emulator that is a 2 s lock
    // timeout per collision. Refused, the pass reads again and decides again.
    const { writes, ops } = batchWriter();
    persist(writes, after, plan, now, deps);
    if (!plan.finalizeDelete) persistReports(writes, reported, plan, now, deps);
    const commitStart = performance.now();
    const refused = await deps.store
      .batch(conditionalOnWorld(ops, paths.world(state.world.name), version, state.world.revision))
      .then(
        () => false,
        (err: unknown) => {
          if (!(err instanceof FleetError && err.code === 'ABORTED') || attempts >= MAX_COMMIT_ATTEMPTS) throw err;
          return true;
        },
      );
    commitMs += performance.now() - commitStart;
    if (!refused) {
      keepSnapshot(
        deps,
        msg.world,
        plan.finalizeDelete
          ? undefined
          : snapshotAfter(
              snapshot,
              (state.world.revision ?? 0) + 1,
              plan.createCells,
              [...plan.updateCells, ...reportedOnly(reported, plan)],
              plan.operations,
            ),
      );
      result = { state: after, plan, reported };
      break;
    }
    deps.metrics.inc('fleetforge_reconcile_conflicts_total', { world: msg.world });
    log.debug({ world: msg.world, attempts }, 'the world changed under the pass; reading again');
    await sleep(Math.random() * 20 * attempts);
  }
  const committedAt = performance.now();
  const { state, plan, reported } = result;
  logStale(log, reported.stale);
  for (const { report } of reported.applied) {
    log.info({ world: report.world, cell: report.cell, kind: report.kind }, 'report applied');
  }
  await publishCommands(
    deps,
    state.world,
    [...plan.operations, ...state.operations],
    plan,
    (plan.status ?? state.world.status).routingEpoch,
  );
  // A deleted world keeps nothing, warm cells included (else its pool lasts until the agent forgets it).
  if (plan.finalizeDelete) {
    await publishSync(deps, state.world.name, [], [], 0, state.world.correlationId, state.world.createdAt);
  }
  for (const e of plan.events) {
    if (e.type === 'WorldInitialized')
      deps.metrics.observe('fleetforge_world_ready_seconds', Number(e.data?.seconds ?? 0));
  }
  for (const d of plan.durations) {
    deps.metrics.observe(
      d.kind === 'split' ? 'fleetforge_split_duration_seconds' : 'fleetforge_merge_duration_seconds',
      d.seconds,
    );
  }
  const status = plan.status ?? state.world.status;
  deps.metrics.set('fleetforge_worlds_ready', status.ready ? 1 : 0, { world: state.world.name });
  deps.metrics.set('fleetforge_world_degraded', isDegraded(status) ? 1 : 0, { world: state.world.name });
  setOldestOperationAge(deps, state.world.name, [...state.operations, ...plan.operations]);
  deps.metrics.observe('fleetforge_reconcile_duration_seconds', (performance.now() - started) / 1000);
  log.info(
    {
      world: state.world.name,
      phase: status.phase,
      epoch: status.routingEpoch,
      started: plan.start.map((s) => s.cell),
      stopped: plan.stop.map((s) => s.cell),
      handoffs: plan.handoff.map((h) => h.cell),
      operations: plan.operations.map((o) => `${o.kind}:${o.id}:${o.state}`),
      decisions: plan.decisions.map((d) => (d.kind === 'blocked' ? `blocked:${d.why}:${d.cells.join('+')}` : d.kind)),
      events: plan.events.map((e) => e.type),
      finalized: plan.finalizeDelete,
      reports: reports.length,
      ms: Math.round(performance.now() - started),
      // Where the pass's time went: the plain read, the transaction (attempts), the publishes.
      spans: {
        readMs: Math.round(readMs),
        commitMs: Math.round(commitMs),
        attempts,
        // Reads whose cells and operations came from this instance's snapshot.
        cachedReads,
        publishMs: Math.round(performance.now() - committedAt),
      },
    },
    'reconciled',
  );
  return 'ok';
}

function persist(tx: TransactionWrites, state: WorldState, plan: TickPlan, now: Date, deps: Deps): void {
  const name = state.world.name;
  if (plan.finalizeDelete) {
    for (const c of state.cells) tx.delete(paths.cell(name, c.id));
    for (const o of state.operations) tx.delete(paths.operation(name, o.id));
    for (const c of state.cells) tx.delete(paths.load(name, c.id));
    tx.delete(paths.world(name));
  } else {
    for (const c of plan.createCells) writeCell(tx, false, c);
    for (const c of plan.updateCells) writeCell(tx, true, c);
    for (const o of plan.operations) tx.set(paths.operation(name, o.id), o);
    if (plan.status) tx.update(paths.world(name), { status: plan.status, updatedAt: now.toISOString() });
  }
  // Events of an operation carry its correlation id; world-level ones the world's.
  const byOp = new Map(plan.operations.map((o) => [o.id, o.correlationId]));
  for (const e of plan.events) {
    const opId = typeof e.data?.operation === 'string' ? e.data.operation : undefined;
    writeEvents(tx, [e], {
      world: name,
      correlationId: (opId && byOp.get(opId)) || state.world.correlationId,
      principal: PRINCIPAL,
      time: now,
      ids: deps.ids,
    });
  }
}

/**
 * Writes the cells reports changed that the plan does not write itself (its copies
 * already carry the reports), and each report's events under the report's own
 * correlation id and agent.
 */
function persistReports(tx: TransactionWrites, reported: ReportsApplied, plan: TickPlan, now: Date, deps: Deps): void {
  for (const c of reportedOnly(reported, plan)) writeCell(tx, true, c);
  for (const { report, events } of reported.applied) {
    writeEvents(tx, events, {
      world: report.world,
      correlationId: report.correlationId,
      principal: `agent:${report.agentId}`,
      time: now,
      ids: deps.ids,
    });
  }
}

/** Cells the reports changed that the plan does not write itself. */
function reportedOnly(reported: ReportsApplied, plan: TickPlan): CellDoc[] {
  const planned = new Set([...plan.createCells, ...plan.updateCells].map((c) => c.id));
  return reported.cells.filter((c) => reported.changed.has(c.id) && !planned.has(c.id));
}

function logStale(log: Deps['log'], stale: readonly AgentReport[]): void {
  for (const r of stale) {
    log.debug({ world: r.world, cell: r.cell, kind: r.kind, incarnation: r.incarnation }, 'stale report ignored');
  }
}

/** One `sync` command for a world: the cells the agent should be running, and how many to keep warm. */
export async function publishSync(
  deps: Deps,
  world: string,
  cells: Array<{ cell: string; incarnation: number }>,
  keep: Array<{ cell: string; incarnation: number }>,
  warmPool: number,
  correlationId: string,
  generation?: string,
): Promise<void> {
  const command = AgentCommandSchema.parse({
    kind: 'sync',
    commandId: deps.ids.next('cmd'),
    world,
    cells,
    keep,
    warmPool,
    ...(generation ? { generation } : {}),
    correlationId,
  });
  await deps.bus.publish(TOPICS.agentCommands, command, { world, correlationId });
}

/**
 * Publishes start, stop and hand-off commands. Each carries the correlation id of
 * the operation its cell takes part in (the first listed wins), else the world's;
 * a start also names whom the cell is billed to (the world's tenant and its tier).
 */
export async function publishCommands(
  deps: Deps,
  world: WorldDoc,
  operations: readonly OperationDoc[],
  plan: Pick<TickPlan, 'start' | 'stop' | 'handoff'>,
  epoch: number,
): Promise<void> {
  const corr = (cell: string) =>
    operations.find((o) => o.sources.includes(cell) || o.targets.some((t) => t.id === cell))?.correlationId ??
    world.correlationId;
  const base = (cell: string, incarnation: number) => ({
    commandId: deps.ids.next('cmd'),
    world: world.name,
    cell,
    incarnation,
    correlationId: corr(cell),
  });
  // Only starts need it: one read of the tenant's document, for its tier now.
  const billing = plan.start.length > 0 ? await cellBilling(deps.store, world) : undefined;
  const commands: AgentCommand[] = [
    ...plan.start.map((s) =>
      AgentCommandSchema.parse({
        kind: 'start',
        ...base(s.cell, s.incarnation),
        boundary: s.boundary,
        capacity: world.spec.capacity,
        epoch,
        neverReady: s.neverReady ?? false,
        generation: world.createdAt,
        warmPool: warmPoolSize(world.spec),
        ...billing,
      }),
    ),
    ...plan.stop.map((s) =>
      AgentCommandSchema.parse({
        kind: 'stop',
        ...base(s.cell, s.incarnation),
        reason: s.reason,
        generation: world.createdAt,
      }),
    ),
    ...plan.handoff.map((h) =>
      AgentCommandSchema.parse({
        kind: 'handoff',
        ...base(h.cell, h.incarnation),
        operation: h.operation,
        epoch: h.epoch,
        targets: h.targets,
      }),
    ),
  ];
  await Promise.all(
    commands.map((c) => deps.bus.publish(TOPICS.agentCommands, c, { world: c.world, correlationId: c.correlationId })),
  );
}

/**
 * Age of the world's oldest active operation (0 with none). The sentinel re-queues
 * every world each minute, so a stuck operation shows here as a growing age.
 */
function setOldestOperationAge(deps: Deps, world: string, operations: readonly OperationDoc[]): void {
  deps.metrics.set(
    'fleetforge_operation_oldest_active_seconds',
    oldestActiveOperationSeconds(operations, deps.clock.now()),
    {
      world,
    },
  );
}
