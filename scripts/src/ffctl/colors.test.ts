import { color, colorEnabled, useColors } from './colors';

describe('colorEnabled', () => {
  it.each([
    [{}, true, true],
    [{}, false, false],
    [{ CI: 'true' }, false, false],
    [{ NO_COLOR: '1' }, true, false],
    [{ NO_COLOR: '1', FORCE_COLOR: '1' }, true, false],
    [{ FORCE_COLOR: '1' }, false, true],
    [{ FORCE_COLOR: '0' }, true, false],
    [{ TERM: 'dumb' }, true, false],
  ])('%j on a terminal=%s → %s', (env, tty, expected) => {
    expect(colorEnabled(env, tty)).toBe(expected);
  });
});

describe('color', () => {
  afterEach(() => useColors(false));
  it('is plain unless turned on', () => {
    useColors(false);
    expect(color.red('x')).toBe('x');
    useColors(true);
    expect(color.red('x')).toBe('\x1b[31mx\x1b[39m');
  });
});
