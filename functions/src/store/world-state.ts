import {
  AgentDocSchema,
  CellDocSchema,
  OperationDocSchema,
  type OperationDoc,
  ScalingOverridesSchema,
  WorldDocSchema,
  paths,
  parseOrThrow,
  type CellDoc,
  LoadDocSchema,
  type LoadDoc,
  type DocData,
  type StateStore,
  type AgentWarm,
  type WorldState,
  type Transaction,
  type TransactionWrites,
  type WorldDoc,
  canonicalJson,
  effectiveScaling,
  FleetError,
  operationsLookbackMs,
} from '@fleetforge/shared';
import { OPERATIONS_LOOKBACK, newestFirst, readLiveOperations, readOperations } from './operations';

/** Every Firestore read is validated: a document that does not parse is an error, not a guess. */
export function parseWorld(data: DocData, name: string): WorldDoc {
  return parseOrThrow(WorldDocSchema, data, `document ${paths.world(name)}`);
}

export function parseCell(data: DocData, path: string): CellDoc {
  return parseOrThrow(CellDocSchema, data, `document ${path}`);
}

export async function readWorld(tx: Pick<Transaction, 'get' | 'list'>, name: string): Promise<WorldDoc | undefined> {
  const data = await tx.get(paths.world(name));
  return data ? parseWorld(data, name) : undefined;
}

export async function readCells(tx: Pick<Transaction, 'get' | 'list'>, world: string): Promise<CellDoc[]> {
  return (await tx.list(paths.cells(world))).map((d) => parseCell(d.data, d.path));
}

/**
 * Writes a cell's control fields. `load` is owned by ingestMetrics, so an
 * existing cell is updated without it and a concurrent sample is never rolled back.
 */
export function writeCell(tx: TransactionWrites, existing: boolean, cell: CellDoc): void {
  const path = paths.cell(cell.world, cell.id);
  if (!existing) {
    tx.set(path, cell);
    return;
  }
  const { load: _load, ...control } = cell;
  tx.update(path, control);
}

/** The live scaling overrides (`config/scaling`), validated like every read. */
export async function readOverrides(tx: Pick<Transaction, 'get' | 'list'>): Promise<WorldState['overrides']> {
  const data = await tx.get(paths.config('scaling'));
  if (!data) return {};
  return parseOrThrow(ScalingOverridesSchema, data.overrides ?? {}, `document ${paths.config('scaling')}`);
}

/**
 * Puts each cell's load (from `loads/`) into its doc. Loads are read outside any
 * transaction on purpose: they are advisory input to decisions, and locking them
 * would make every metrics write contend with state changes.
 */
export async function withLoads(store: Pick<StateStore, 'list'>, world: string, cells: CellDoc[]): Promise<CellDoc[]> {
  return applyLoads(cells, await readLoads(store, world));
}

async function readLoads(store: Pick<StateStore, 'list'>, world: string): Promise<Map<string, LoadDoc>> {
  return new Map(
    (await store.list(paths.loads(world))).map((d) => {
      const l = parseOrThrow(LoadDocSchema, d.data, `document ${d.path}`);
      return [l.cell, l] as const;
    }),
  );
}

function applyLoads(cells: CellDoc[], loads: ReadonlyMap<string, LoadDoc>): CellDoc[] {
  return cells.map((c) => {
    const l = loads.get(c.id);
    if (!l || l.incarnation !== c.incarnation) return c;
    return {
      ...c,
      load: {
        sessions: l.sessions,
        cpuMillis: l.cpuMillis,
        memoryMiB: l.memoryMiB,
        window: l.window,
        hist: l.hist,
        history: l.history,
      },
      lastReportAt: l.lastReportAt > (c.lastReportAt ?? '') ? l.lastReportAt : c.lastReportAt,
    };
  });
}

/** Cells with their loads, for reads outside a transaction. */
export async function readCellsWithLoads(store: StateStore, world: string): Promise<CellDoc[]> {
  return withLoads(store, world, await readCells(store, world));
}

/**
 * What the agents' heartbeats say: when the control plane last recorded one from any agent
 * (null: never), and the warm cells of those that keep a pool (summed, counted at the
 * oldest of their heartbeats). Read outside transactions, like loads: heartbeats arrive
 * every few seconds and must not contend with state changes.
 */
export async function readAgents(
  store: Pick<StateStore, 'list'>,
): Promise<Required<Pick<WorldState, 'agentSeenAt'>> & Pick<WorldState, 'agentWarm'>> {
  let latest: string | null = null;
  let warm: AgentWarm | undefined;
  for (const d of await store.list(paths.agents())) {
    const a = parseOrThrow(AgentDocSchema, d.data, `document ${d.path}`);
    if (latest === null || a.receivedAt > latest) latest = a.receivedAt;
    if (a.warmTarget === 0) continue;
    warm = warm
      ? { warm: warm.warm + a.warm, at: a.sentAt < warm.at ? a.sentAt : warm.at }
      : { warm: a.warm, at: a.sentAt };
  }
  return { agentSeenAt: latest, ...(warm ? { agentWarm: warm } : {}) };
}

/**
 * World, cells (with loads), operations, live config and agent liveness: what one
 * reconcile looks at. The reads go out together (in a transaction, the first starts it
 * and the rest follow at once): under load every round trip is tens of milliseconds.
 * Loads and agent liveness are read outside the transaction (see `withLoads`).
 */
export async function readWorldState(
  tx: Pick<Transaction, 'get' | 'list'>,
  name: string,
  store: Pick<StateStore, 'list'>,
): Promise<WorldState | undefined> {
  const [world, cells, operations, overrides, loads, agents] = await Promise.all([
    readWorld(tx, name),
    readCells(tx, name),
    readOperations(tx, name),
    readOverrides(tx),
    readLoads(store, name),
    readAgents(store),
  ]);
  if (!world) return undefined;
  return { world, cells: applyLoads(cells, loads), operations, overrides, ...agents };
}

/**
 * The same state for an optimistic pass, with the world document's version: a pass
 * commits only if the world is still at it (`WriteOp.ifVersion`). The world is read
 * before cells and operations, so every write that changed them after it was read
 * (each bumps the world's `revision`) fails that commit; the other reads start at once.
 * Operations: the active ones and those ended within the world's look-back from `now`.
 * `knownLoads`: loads the caller has just read and written (ingestMetrics), not read again.
 * `snapshot`: cells and operations this instance already knows (see `WorldSnapshot`),
 * used instead of reading them when the world is still at their revision.
 */
export async function readWorldStateVersioned(
  store: StateStore,
  name: string,
  now: Date,
  known: { loads?: ReadonlyMap<string, LoadDoc>; snapshot?: WorldSnapshot; check?: boolean } = {},
): Promise<(WorldState & { version: string; snapshot: WorldSnapshot; fromSnapshot: boolean }) | undefined> {
  const side = Promise.all([known.loads ?? readLoads(store, name), readAgents(store)]);
  const [read, overrides] = await Promise.all([store.getVersioned(paths.world(name)), readOverrides(store)]);
  if (!read) {
    await side.catch(() => undefined);
    return undefined;
  }
  const world = parseWorld(read.data, name);
  // Ended operations matter only as far back as this world's cool-down and rate limits look.
  const since = new Date(now.getTime() - operationsLookbackMs(effectiveScaling(world, overrides))).toISOString();
  const usable = known.snapshot && snapshotCovers(known.snapshot, world, since) ? known.snapshot : undefined;
  const [cells, operations, [loads, agents]] = await Promise.all([
    usable ? usable.cells : readCells(store, name),
    usable ? liveOperations(usable.operations, since) : readLiveOperations(store, name, since),
    side,
  ]);
  if (usable && known.check) await checkSnapshot(store, name, read.version, since, cells, operations);
  // Read after the world, so they are at least as new as its revision: any newer write also
  // moved the revision on, and a snapshot keyed by this one is then never used.
  const snapshot: WorldSnapshot = {
    generation: world.createdAt,
    revision: world.revision ?? 0,
    since,
    cells,
    operations,
  };
  return {
    world,
    // Copies: the pass's planners get objects of their own, never the snapshot's.
    cells: applyLoads(structuredClone([...cells]), loads),
    operations: structuredClone([...operations]),
    overrides,
    ...agents,
    version: read.version,
    snapshot,
    fromSnapshot: usable !== undefined,
  };
}

/**
 * A world's cells (as stored, without their loads) and live operations as one instance
 * last read or wrote them, with the world `revision` they belong to. Every write of a
 * cell or an operation also moves the world's revision on (a pass's conditional batch, a
 * manual operation's transaction), so while the world document is at that revision
 * they are what a read would return: a pass that finds it so skips its second round trip.
 */
export interface WorldSnapshot {
  /** The world's `createdAt`: a world deleted and applied again starts its revisions anew. */
  generation: string;
  revision: number;
  /** The look-back the operations were read with: usable for passes looking back no further. */
  since: string;
  cells: readonly CellDoc[];
  operations: readonly OperationDoc[];
}

/** Fails when what a snapshot says differs from a read of the store (FF_CHECK_SNAPSHOTS). */
async function checkSnapshot(
  store: StateStore,
  name: string,
  version: string,
  since: string,
  cells: readonly CellDoc[],
  operations: readonly OperationDoc[],
): Promise<void> {
  const [read, ops] = await Promise.all([readCells(store, name), readLiveOperations(store, name, since)]);
  // Key order aside: a document read back need not list its fields in the order they were set.
  if (canonicalJson({ cells, operations }) === canonicalJson({ cells: read, operations: ops })) return;
  // Another writer may have come in since the world was read: then this read proves nothing
  // (and the pass's commit is refused anyway). With the world unchanged, it is a divergence.
  const again = await store.getVersioned(paths.world(name));
  if (again?.version === version) {
    throw new FleetError('INTERNAL', `the snapshot of world ${name} differs from the store`, {
      details: { snapshot: { cells, operations }, store: { cells: read, operations: ops } },
    });
  }
}

function snapshotCovers(s: WorldSnapshot, world: WorldDoc, since: string): boolean {
  return s.generation === world.createdAt && s.revision === (world.revision ?? 0) && s.since <= since;
}

/** The snapshot's operations as `readLiveOperations` would return them for `since`. */
function liveOperations(ops: readonly OperationDoc[], since: string): OperationDoc[] {
  const active = ops.filter((o) => o.completedAt === null);
  const ended = ops
    .filter((o) => o.completedAt !== null && o.completedAt >= since)
    .sort((a, b) => (a.completedAt! < b.completedAt! ? 1 : a.completedAt! > b.completedAt! ? -1 : 0))
    .slice(0, OPERATIONS_LOOKBACK);
  return [...active, ...ended].sort(newestFirst);
}

/**
 * The snapshot after a committed batch that bumped the world to `revision`: cells and
 * operations as the writes leave them in the store. A created cell is stored whole; an
 * updated one keeps its stored `load` (see `writeCell`), and a field left undefined is
 * not written. Each is parsed as a read would parse it.
 */
export function snapshotAfter(
  before: WorldSnapshot,
  revision: number,
  created: readonly CellDoc[],
  updated: readonly CellDoc[],
  operations: readonly OperationDoc[],
): WorldSnapshot {
  const cells = new Map(before.cells.map((c) => [c.id, c]));
  const stored = (c: unknown): CellDoc => parseCell(JSON.parse(JSON.stringify(c)) as DocData, 'snapshot');
  for (const c of created) cells.set(c.id, stored(c));
  for (const c of updated) {
    const { load: _load, ...control } = c;
    // An update leaves a field it does not name, or names as undefined, as it was (ignoreUndefinedProperties).
    const written = Object.fromEntries(Object.entries(control).filter(([, v]) => v !== undefined));
    cells.set(c.id, stored({ ...cells.get(c.id), ...written }));
  }
  const ops = new Map(before.operations.map((o) => [o.id, o]));
  for (const o of operations)
    ops.set(o.id, parseOrThrow(OperationDocSchema, JSON.parse(JSON.stringify(o)) as DocData, 'snapshot'));
  return {
    generation: before.generation,
    revision,
    since: before.since,
    // In document-id order, as a read lists them.
    cells: [...cells.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
    operations: [...ops.values()].sort(newestFirst),
  };
}
