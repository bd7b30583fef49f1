import { fleetErrorFrom } from '../testing/errors';
import { CellDocSchema, WorldDocSchema, type CellDoc, type WorldDoc } from '../world/model';
import { ScalingSchema, type ScalingOverrides } from '../world/world';
import { beginManualMerge, beginManualSplit, planScalingConfig } from './manual';
import { newOpContext, type BeginOptions } from './operations-plan';
import type { ScalingInput } from './scaling';

const NOW = new Date('2026-05-01T12:00:00.000Z');
const EARLIER = '2026-05-01T11:00:00.000Z';

/** World `m`: one 100×100 region, split thresholds from its spec (split 500, merge 100 unless given). */
function world(name = 'm', scaling: Record<string, number> = {}): WorldDoc {
  return WorldDocSchema.parse({
    name,
    spec: {
      topology: { bounds: { x: 0, y: 0, width: 100, height: 100 }, grid: { cols: 1, rows: 1 } },
      scaling: { splitSessions: 500, mergeSessions: 100, ...scaling },
    },
    specHash: 'h',
    status: { phase: 'Ready', ready: true, cellsActive: 1, routingEpoch: 1, generation: 1, observedGeneration: 1 },
    createdAt: EARLIER,
    updatedAt: EARLIER,
    correlationId: 'c',
  });
}

function cell(id: string, x: number, width: number, state: CellDoc['state'] = 'Ready'): CellDoc {
  return CellDocSchema.parse({
    id,
    world: 'm',
    parent: id.includes('.') ? id.slice(0, id.lastIndexOf('.')) : null,
    boundary: { x, y: 0, width, height: 100 },
    state,
    incarnation: 1,
    endpoint: state === 'Ready' ? `http://${id}:7000` : null,
    readyAt: state === 'Ready' ? EARLIER : null,
    load: { sessions: 10, cpuMillis: 0, memoryMiB: 0, window: [] },
    routable: state === 'Ready',
    createdAt: EARLIER,
    updatedAt: EARLIER,
    correlationId: 'c',
  });
}

const OPTS: BeginOptions = {
  id: 'op-1',
  cause: 'ManualOverride',
  reason: 'manual',
  principal: 'token:ops',
  correlationId: 'corr-op',
  readinessTimeoutSeconds: 10,
};

function setup(cells: CellDoc[]) {
  const w = world();
  const input: ScalingInput = { scaling: w.spec.scaling, capacity: w.spec.capacity, cells, operations: [], now: NOW };
  return { c: newOpContext(w, cells, NOW), input };
}

describe('beginManualSplit', () => {
  it('splits a Ready cell however little load it has: children partition it and start', () => {
    const { c, input } = setup([cell('r0c0', 0, 100)]);
    const op = beginManualSplit(c, input, 'r0c0', OPTS);
    expect(op).toMatchObject({ kind: 'split', sources: ['r0c0'], cause: 'ManualOverride', principal: 'token:ops' });
    expect(op.targets.map((t) => t.id)).toEqual(c.start.map((s) => s.cell));
    expect(op.targets.length).toBeGreaterThanOrEqual(2);
  });

  it.each<[string, CellDoc[], string, RegExp]>([
    ['a cell that does not exist', [cell('r0c0', 0, 100)], 'NOT_FOUND', /cell nope not found in world m/],
    ['a cell that is not Ready', [cell('nope', 0, 100, 'Pending')], 'CONFLICT', /cannot split nope: /],
  ])('refuses %s', (_what, cells, code, message) => {
    const { c, input } = setup(cells);
    const err = fleetErrorFrom(() => beginManualSplit(c, input, 'nope', OPTS));
    expect([err.code, err.message]).toEqual([code, expect.stringMatching(message)]);
    expect(c.start).toEqual([]);
  });
});

describe('beginManualMerge', () => {
  const parent = () => ({ ...cell('r0c0', 0, 100, 'Terminated'), routable: false });

  it('merges Ready siblings that tile their parent back into it', () => {
    const { c, input } = setup([parent(), cell('r0c0.0', 0, 50), cell('r0c0.1', 50, 50)]);
    const op = beginManualMerge(c, input, ['r0c0.1', 'r0c0.0'], OPTS);
    expect(op).toMatchObject({ kind: 'merge', sources: ['r0c0.0', 'r0c0.1'], targets: [{ id: 'r0c0' }] });
  });

  it('refuses cells that are not siblings of one parent (409 with the reason)', () => {
    const { c, input } = setup([parent(), cell('r0c0.0', 0, 50), cell('x', 50, 50)]);
    const err = fleetErrorFrom(() => beginManualMerge(c, input, ['r0c0.0', 'x'], OPTS));
    expect(err.code).toBe('CONFLICT');
    expect(err.message).toMatch(/^cannot merge r0c0.0, x: /);
    expect(err.details).toMatchObject({ why: 'NotSiblings' });
  });
});

describe('planScalingConfig', () => {
  const worlds = [world('a'), world('b', { splitSessions: 300, mergeSessions: 50 })];
  const plan = (current: ScalingOverrides, set: Record<string, unknown>, unset: string[] = []) =>
    planScalingConfig(current, { set, unset }, worlds, 4);

  it('sets keys, names what changed and bumps the version with a ConfigReload event', () => {
    const p = plan({ mergeSessions: 40 }, { splitSessions: 600, mergeSessions: 40 });
    expect(p.overrides).toEqual({ splitSessions: 600, mergeSessions: 40 });
    expect(p.changedKeys).toEqual(['scaling.splitSessions']);
    expect(p.version).toBe(5);
    expect(p.event).toMatchObject({
      type: 'ConfigReload',
      data: { changedKeys: ['scaling.splitSessions'], version: 5 },
    });
  });

  it('drops keys back to each world’s spec', () => {
    const p = plan({ splitSessions: 600 }, {}, ['splitSessions']);
    expect([p.overrides, p.changedKeys, p.version]).toEqual([{}, ['scaling.splitSessions'], 5]);
  });

  it('changes nothing (no event, same version) when the values are the same', () => {
    const p = plan({ splitSessions: 600 }, { splitSessions: 600 });
    expect([p.changedKeys, p.version, p.event]).toEqual([[], 4, null]);
  });

  it.each<[string, Record<string, unknown>, string, RegExp]>([
    ['an unknown key', { splitSession: 1 }, 'scaling', /.+/],
    ['a value of the wrong type', { splitSessions: 'many' }, 'scaling.splitSessions', /.+/],
    [
      'a merge threshold at or above a world’s split threshold',
      { mergeSessions: 300 },
      'scaling.mergeSessions',
      /must be below splitSessions \(300\) in world b/,
    ],
  ])('refuses %s (400 naming the key)', (_what, set, path, message) => {
    const err = fleetErrorFrom(() => plan({}, set));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.issues[0]).toMatchObject({ path: expect.stringMatching(new RegExp(`^${path}`)), message });
  });

  it('keeps the defaults valid', () => {
    expect(ScalingSchema.parse({}).mergeSessions).toBeLessThan(ScalingSchema.parse({}).splitSessions);
  });
});
