import { OperationDocSchema, operationsLookbackMs, paths, type OperationDoc } from '@fleetforge/shared';
import { MemoryStateStore } from '@fleetforge/shared/testing';
import { readLiveOperations } from './operations';

const T = (min: number) => new Date(Date.UTC(2026, 11, 1, 10, min)).toISOString();

function op(id: string, createdAt: string, completedAt: string | null): OperationDoc {
  return OperationDocSchema.parse({
    id,
    world: 'w',
    kind: 'split',
    state: completedAt ? 'Completed' : 'HandingOff',
    cause: 'Threshold',
    reason: 'test',
    sources: ['r0c0'],
    targets: [{ id: 'r0c0.0', boundary: { x: 0, y: 0, width: 1, height: 1 }, incarnation: 1 }],
    readyDeadline: createdAt,
    principal: 'system',
    correlationId: 'c',
    createdAt,
    updatedAt: completedAt ?? createdAt,
    completedAt,
  });
}

describe('readLiveOperations', () => {
  it('reads every active operation and those ended since the cut-off, newest first', async () => {
    const store = new MemoryStateStore();
    const ops = [
      op('old-done', T(0), T(1)), // ended long before: not read
      op('old-active', T(2), null), // active however old
      op('recent-done', T(3), T(50)), // created early, ended within the look-back: a cool-down needs it
      op('new-active', T(55), null),
    ];
    for (const o of ops) await store.set(paths.operation('w', o.id), o);
    const read = await readLiveOperations(store, 'w', T(40));
    expect(read.map((o) => o.id)).toEqual(['new-active', 'recent-done', 'old-active']);
  });

  it.each([
    [30, 65_000],
    [0, 65_000],
    [600, 605_000],
  ])('looks back over the rate-limit minute or the cool-down (%i s), whichever is longer', (cooldownSeconds, ms) => {
    expect(operationsLookbackMs({ cooldownSeconds })).toBe(ms);
  });
});
