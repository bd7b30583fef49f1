import { oldestActiveOperationSeconds } from './operations';

describe('oldestActiveOperationSeconds', () => {
  const now = new Date('2026-01-01T00:20:00Z');
  const op = (id: string, state: 'Planned' | 'Draining' | 'Completed' | 'RolledBack', createdAt: string) => ({
    id,
    state,
    createdAt,
  });

  it('is the age of the oldest operation still in progress', () => {
    expect(
      oldestActiveOperationSeconds(
        [
          op('a', 'Draining', '2026-01-01T00:05:00Z'),
          op('b', 'Planned', '2026-01-01T00:19:00Z'),
          op('c', 'Completed', '2026-01-01T00:00:00Z'),
        ],
        now,
      ),
    ).toBe(900);
  });

  it('is 0 with nothing in progress', () => {
    expect(oldestActiveOperationSeconds([], now)).toBe(0);
    expect(oldestActiveOperationSeconds([op('c', 'RolledBack', '2026-01-01T00:00:00Z')], now)).toBe(0);
  });

  it('takes the later copy of an operation: one this tick completed no longer counts', () => {
    const before = op('a', 'Draining', '2026-01-01T00:05:00Z');
    const after = op('a', 'Completed', '2026-01-01T00:05:00Z');
    expect(oldestActiveOperationSeconds([before, after], now)).toBe(0);
  });
});
