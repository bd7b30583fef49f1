import { WarmTargets } from './warm-targets';

describe('WarmTargets', () => {
  // Steps read `world=size@time`; `size` is `null` when a command did not say.
  it.each<[name: string, steps: string, at: number, bounds: { min?: number; max?: number }, want: number]>([
    ['nothing heard: the floor', '', 0, { min: 2 }, 2],
    ['worlds add up', 'a=4@0 b=3@0', 1, {}, 7],
    ['the latest word per world counts', 'a=4@0 a=1@5', 6, {}, 1],
    ['null says nothing: the last size stays', 'a=4@0 a=null@5', 6, {}, 4],
    ['0 removes the world', 'a=4@0 b=2@0 a=0@1', 2, {}, 2],
    ['capped by max', 'a=10@0 b=10@0', 1, { max: 12 }, 12],
    ['a world not heard of in time is forgotten', 'a=4@0 b=2@900', 1001, {}, 2],
    ['at most max even when min is above it', '', 0, { min: 20, max: 8 }, 8],
  ])('%s', (_name, steps, at, { min = 0, max = 32 }, want) => {
    const t = new WarmTargets({ min, max, forgetAfterMs: 1000 });
    for (const step of steps.split(' ').filter(Boolean)) {
      const [, world, size, when] = /^(\w+)=(\w+)@(\d+)$/.exec(step)!;
      t.note(world!, size === 'null' ? null : Number(size), Number(when));
    }
    expect(t.total(at)).toBe(want);
  });
});
