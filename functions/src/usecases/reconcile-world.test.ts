import { CellDocSchema, WorldDocSchema, paths, type WriteOp } from '@fleetforge/shared';
import { SeqIds } from '@fleetforge/shared/testing';
import { memoryDeps } from '../testing/memory-deps';
import { applyWorld, readyReport, splitCell } from '../testing/worlds';
import { readLiveOperations } from '../store/operations';
import { readCells, readWorldStateVersioned } from '../store/world-state';
import { conditionalOnWorld, knownSnapshot, reconcileWithReports } from './reconcile-world';

describe('conditionalOnWorld', () => {
  const W = 'worlds/w';
  const table: Array<{ name: string; ops: WriteOp[]; want: WriteOp[] }> = [
    {
      name: 'adds the condition and the revision to the pass’s own world update',
      ops: [
        { op: 'set', path: 'worlds/w/cells/a', data: { n: 1 } },
        { op: 'update', path: W, patch: { status: 's' } },
      ],
      want: [
        { op: 'set', path: 'worlds/w/cells/a', data: { n: 1 } },
        { op: 'update', path: W, patch: { status: 's', revision: 4 }, ifVersion: 'v1' },
      ],
    },
    {
      name: 'appends a revision bump when the pass changes only cells',
      ops: [{ op: 'set', path: 'worlds/w/cells/a', data: { n: 1 } }],
      want: [
        { op: 'set', path: 'worlds/w/cells/a', data: { n: 1 } },
        { op: 'update', path: W, patch: { revision: 4 }, ifVersion: 'v1' },
      ],
    },
    {
      name: 'makes the deletion of a finalized world conditional',
      ops: [
        { op: 'delete', path: 'worlds/w/cells/a' },
        { op: 'delete', path: W },
      ],
      want: [
        { op: 'delete', path: 'worlds/w/cells/a' },
        { op: 'delete', path: W, ifVersion: 'v1' },
      ],
    },
  ];
  it.each(table)('$name', ({ ops, want }) => {
    expect(conditionalOnWorld(ops, W, 'v1', 3)).toEqual(want);
  });
});

describe('reconcile passes commit optimistically', () => {
  async function setup() {
    const deps = memoryDeps({ ids: new SeqIds() });
    expect((await applyWorld(deps)).status).toBe(201);
    const ready = (cell: string) => readyReport(cell);
    const cell = async (id: string) => CellDocSchema.parse(await deps.store.get(paths.cell('w', id)));
    const world = async () => WorldDocSchema.parse(await deps.store.get(paths.world('w')));
    // The first pass creates the cells (Pending, their starts sent).
    await reconcileWithReports(deps, { world: 'w', reason: 'test', correlationId: 'c' }, deps.log, []);
    expect((await cell('r0c0')).state).toBe('Pending');
    return { deps, ready, cell, world };
  }

  it('a pass another instance beat to the commit reads again, and neither change is lost', async () => {
    const { deps, ready, cell, world } = await setup();
    const revisionBefore = (await world()).revision ?? 0;
    // Another function instance (its own Deps, so its own single-flight) on the same store.
    const other = memoryDeps({ store: deps.store, ids: new SeqIds() });
    const commit = deps.store.batch.bind(deps.store);
    let commits = 0;
    deps.store.batch = async (ops) => {
      commits += 1;
      // Between this pass's read and its commit, the other instance applies its report.
      if (commits === 1)
        expect(
          await reconcileWithReports(other, { world: 'w', reason: 'report', correlationId: 'c2' }, other.log, [
            ready('r0c1'),
          ]),
        ).toBe('ok');
      return commit(ops);
    };
    expect(
      await reconcileWithReports(deps, { world: 'w', reason: 'report', correlationId: 'c1' }, deps.log, [
        ready('r0c0'),
      ]),
    ).toBe('ok');
    // Refused once (the world had moved on), then committed on a fresh read.
    expect(deps.metrics.value('fleetforge_reconcile_conflicts_total', { world: 'w' })).toBe(1);
    expect((await cell('r0c0')).state).toBe('Ready');
    expect((await cell('r0c1')).state).toBe('Ready');
    expect((await world()).revision).toBe(revisionBefore + 2);
  });

  it('a manual operation bumps the revision, so a pass that read before it is refused', async () => {
    const { deps, ready, world } = await setup();
    expect(
      await reconcileWithReports(deps, { world: 'w', reason: 'report', correlationId: 'c' }, deps.log, [
        ready('r0c0'),
        ready('r0c1'),
      ]),
    ).toBe('ok');
    const before = (await world()).revision ?? 0;
    const read = (await deps.store.getVersioned(paths.world('w')))!;
    const split = await splitCell(deps, 'r0c0');
    expect(split.status).toBe(202);
    expect((await world()).revision).toBeGreaterThan(before);
    await expect(
      deps.store.batch(conditionalOnWorld([], paths.world('w'), read.version, before)),
    ).rejects.toMatchObject({ code: 'ABORTED' });
  });
});

describe('a pass reuses what its instance knows of the world', () => {
  /** A world of two Pending cells, reconciled once by `deps`; `lists` records the collections read since. */
  async function setup(checkSnapshots: boolean) {
    const deps = memoryDeps({ ids: new SeqIds(), checkSnapshots });
    expect((await applyWorld(deps)).status).toBe(201);
    await reconcileWithReports(deps, { world: 'w', reason: 'test', correlationId: 'c' }, deps.log, []);
    const lists: string[] = [];
    const list = deps.store.list.bind(deps.store);
    deps.store.list = (collection, query) => {
      lists.push(collection);
      return list(collection, query);
    };
    const report = (d: typeof deps, cell: string) =>
      reconcileWithReports(d, { world: 'w', reason: 'report', correlationId: 'c' }, d.log, [readyReport(cell)]);
    const cell = async (id: string) => CellDocSchema.parse(await deps.store.get(paths.cell('w', id)));
    return { deps, lists, report, cell };
  }
  const readsCellsOrOperations = (lists: string[]) =>
    lists.filter((c) => c === paths.cells('w') || c === paths.operations('w'));

  it('after its own commit, reads neither cells nor operations, and decides as a read would', async () => {
    const { deps, lists, report, cell } = await setup(false);
    expect(await report(deps, 'r0c0')).toBe('ok');
    expect(await report(deps, 'r0c1')).toBe('ok');
    expect(readsCellsOrOperations(lists)).toEqual([]);
    expect((await cell('r0c0')).state).toBe('Ready');
    expect((await cell('r0c1')).state).toBe('Ready');
    // What it kept is what the store holds.
    const snapshot = knownSnapshot(deps, 'w')!;
    expect(snapshot.revision).toBe(WorldDocSchema.parse(await deps.store.get(paths.world('w'))).revision);
    expect(snapshot.cells).toEqual(await readCells(deps.store, 'w'));
    expect(snapshot.operations).toEqual(await readLiveOperations(deps.store, 'w', snapshot.since));
  });

  it('after another instance committed, reads them again', async () => {
    const { deps, lists, report, cell } = await setup(false);
    const other = memoryDeps({ store: deps.store, ids: new SeqIds() });
    expect(await report(other, 'r0c1')).toBe('ok');
    lists.length = 0;
    expect(await report(deps, 'r0c0')).toBe('ok');
    expect(readsCellsOrOperations(lists).sort()).toEqual([
      paths.cells('w'),
      paths.operations('w'),
      paths.operations('w'),
    ]);
    // The other instance's change is kept, not overwritten by a stale copy.
    expect((await cell('r0c1')).state).toBe('Ready');
    expect((await cell('r0c0')).state).toBe('Ready');
  });

  it('a world applied again (a new generation) is read afresh, even at the same revision', async () => {
    const { deps, lists } = await setup(false);
    const known = knownSnapshot(deps, 'w')!;
    lists.length = 0;
    const read = await readWorldStateVersioned(deps.store, 'w', new Date(), {
      snapshot: { ...known, generation: '2020-01-01T00:00:00.000Z' },
    });
    expect(read?.fromSnapshot).toBe(false);
    expect(readsCellsOrOperations(lists)).not.toEqual([]);
  });

  it('with checkSnapshots, a cell written without moving the world on fails the pass instead of being missed', async () => {
    const { deps, report } = await setup(true);
    // Breaks the invariant every writer keeps: a cell changed, the world's revision not.
    await deps.store.update(paths.cell('w', 'r0c1'), { state: 'Failed' });
    await expect(report(deps, 'r0c0')).rejects.toMatchObject({ code: 'INTERNAL' });
  });
});
