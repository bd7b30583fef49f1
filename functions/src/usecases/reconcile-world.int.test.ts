import pino from 'pino';
import { OperationDocSchema, paths, type AgentReport } from '@fleetforge/shared';
import { MemoryBus, RecordingMetricsSink, SeqIds, testProjectId } from '@fleetforge/shared/testing';
import { FirestoreStateStore } from '../adapters/firestore-state-store';
import { testDeps } from '../deps';
import { readLiveOperations } from '../store/operations';
import { readCells } from '../store/world-state';
import { agentReport, applyWorld, splitCell } from '../testing/worlds';
import { knownSnapshot, reconcileWithReports } from './reconcile-world';

/**
 * A split driven through its passes on the Firestore emulator. After every pass, what the
 * instance keeps for the next one must be what Firestore's writes left, field for field.
 */
describe('reconcile passes on the Firestore emulator reuse their snapshot', () => {
  it('splits a cell with passes that skip the second read, and keep exactly what Firestore holds', async () => {
    const store = new FirestoreStateStore(testProjectId('snap'));
    const deps = testDeps({
      store,
      bus: new MemoryBus(),
      metrics: new RecordingMetricsSink(),
      log: pino({ level: 'silent' }),
      ids: new SeqIds(),
      // Compared after every pass below instead: the check's own read would hide the skipped one.
      checkSnapshots: false,
    });
    let cellReads = 0;
    const list = store.list.bind(store);
    store.list = (collection, query) => {
      if (collection === paths.cells('w')) cellReads += 1;
      return list(collection, query);
    };
    const passReads: number[] = [];
    const pass = async (...reports: AgentReport[]) => {
      const before = cellReads;
      expect(
        await reconcileWithReports(deps, { world: 'w', reason: 'test', correlationId: 'c' }, deps.log, reports),
      ).toBe('ok');
      passReads.push(cellReads - before);
      // After every pass, what the instance keeps is what the store holds.
      const kept = knownSnapshot(deps, 'w')!;
      expect(kept.cells).toEqual(await readCells(store, 'w'));
      expect(kept.operations).toEqual(await readLiveOperations(store, 'w', kept.since));
    };

    expect((await applyWorld(deps)).status).toBe(201);
    await pass();
    await pass(agentReport({ kind: 'started', cell: 'r0c0' }), agentReport({ kind: 'ready', cell: 'r0c0' }));
    await pass(agentReport({ kind: 'ready', cell: 'r0c1' }));

    const split = await splitCell(deps, 'r0c0');
    expect(split.status).toBe(202);
    const op = OperationDocSchema.parse((split.body as { operation: unknown }).operation);
    await pass(...op.targets.map((t) => agentReport({ kind: 'ready', cell: t.id, incarnation: t.incarnation })));
    await pass(agentReport({ kind: 'handedOff', cell: 'r0c0', operation: op.id, moved: 0 }));
    await pass(agentReport({ kind: 'stopped', cell: 'r0c0', reason: 'handed off' }));

    const done = OperationDocSchema.parse(await store.get(paths.operation('w', op.id)));
    expect(done.state).toBe('Completed');
    // Only the first pass read the cells: every later one found the world at the revision
    // this instance left it (the API's split reconciles inline, with these deps, and read them then).
    expect(passReads).toEqual([1, 0, 0, 0, 0, 0]);
    await store.close();
  });
});
