import {
  AgentDocSchema,
  CellDocSchema,
  ScalingOverridesSchema,
  WorldDocSchema,
  paths,
  parseOrThrow,
  type CellDoc,
  LoadDocSchema,
  type LoadDoc,
  type DocData,
  type StateStore,
  type WorldState,
  type Transaction,
  type TransactionWrites,
  type WorldDoc,
  effectiveScaling,
  operationsLookbackMs,
} from '@fleetforge/shared';
import { readLiveOperations, readOperations } from './operations';

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
 * When the control plane last recorded a heartbeat from any agent (null: never). Read
 * outside transactions, like loads: heartbeats arrive every few seconds and must not
 * contend with state changes.
 */
export async function readAgentSeenAt(store: Pick<StateStore, 'list'>): Promise<string | null> {
  let latest: string | null = null;
  for (const d of await store.list(paths.agents())) {
    const a = parseOrThrow(AgentDocSchema, d.data, `document ${d.path}`);
    if (latest === null || a.receivedAt > latest) latest = a.receivedAt;
  }
  return latest;
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
  const [world, cells, operations, overrides, loads, agentSeenAt] = await Promise.all([
    readWorld(tx, name),
    readCells(tx, name),
    readOperations(tx, name),
    readOverrides(tx),
    readLoads(store, name),
    readAgentSeenAt(store),
  ]);
  if (!world) return undefined;
  return { world, cells: applyLoads(cells, loads), operations, overrides, agentSeenAt };
}

/**
 * The same state for an optimistic pass, with the world document's version: a pass
 * commits only if the world is still at it (`WriteOp.ifVersion`). The world is read
 * before cells and operations, so every write that changed them after it was read
 * (each bumps the world's `revision`) fails that commit; the other reads start at once.
 * Operations: the active ones and those ended within the world's look-back from `now`.
 * `knownLoads`: loads the caller has just read and written (ingestMetrics), not read again.
 */
export async function readWorldStateVersioned(
  store: StateStore,
  name: string,
  now: Date,
  knownLoads?: ReadonlyMap<string, LoadDoc>,
): Promise<(WorldState & { version: string }) | undefined> {
  const side = Promise.all([knownLoads ?? readLoads(store, name), readAgentSeenAt(store)]);
  const [read, overrides] = await Promise.all([store.getVersioned(paths.world(name)), readOverrides(store)]);
  if (!read) {
    await side.catch(() => undefined);
    return undefined;
  }
  const world = parseWorld(read.data, name);
  // Ended operations matter only as far back as this world's cool-down and rate limits look.
  const since = new Date(now.getTime() - operationsLookbackMs(effectiveScaling(world, overrides))).toISOString();
  const [cells, operations, [loads, agentSeenAt]] = await Promise.all([
    readCells(store, name),
    readLiveOperations(store, name, since),
    side,
  ]);
  return { world, cells: applyLoads(cells, loads), operations, overrides, agentSeenAt, version: read.version };
}
