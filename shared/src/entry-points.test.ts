/**
 * The fakes are for tests: reachable from `@fleetforge/shared/testing` only, never from
 * the main entry, and no production source of the deployed packages imports them.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as main from './index';
import * as testing from './testing';

const FAKES = ['MemoryStateStore', 'MemoryBus', 'MemoryBlobStore', 'MemorySessionCheckpoint', 'RecordingMetricsSink'];
const FAKES_TOO = ['FakeClock', 'SeqIds', 'FakeDriver', 'MemoryCheckpointServer'];

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('shared entry points', () => {
  it('the main entry has the production clock and ids, and no fake', () => {
    expect(main.systemClock.now()).toBeInstanceOf(Date);
    expect(main.randomIds.next('op')).toMatch(/^op-[0-9a-f]{16}$/);
    expect(Object.keys(main).filter((k) => [...FAKES, ...FAKES_TOO].includes(k))).toEqual([]);
  });

  it('the testing entry has every fake', () => {
    expect(Object.keys(testing)).toEqual(expect.arrayContaining([...FAKES, ...FAKES_TOO]));
  });

  it('no production source of shared, functions or agent imports the fakes or the testing entry', () => {
    const root = join(__dirname, '..', '..');
    const production = ['shared/src', 'functions/src', 'agent/src']
      .flatMap((d) => sources(join(root, d)))
      .map((p) => relative(root, p))
      .filter((p) => !/\.test\.ts$/.test(p) && !/\/(fakes|testing)\//.test(p));
    expect(production.length).toBeGreaterThan(50);
    const offenders = production.filter((p) =>
      /from '(@fleetforge\/shared\/testing|[./]+\/fakes\/[^']*|[./]+\/testing(\/[^']*)?)'/.test(
        readFileSync(join(root, p), 'utf8'),
      ),
    );
    expect(offenders).toEqual([]);
  });
});
