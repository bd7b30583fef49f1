import { pollUntil, sleep } from './timing';

describe('sleep', () => {
  it('resolves after the time', async () => {
    const t0 = Date.now();
    await sleep(30);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25);
  });

  it('rejects with the reason as soon as its signal aborts, and at once if already aborted', async () => {
    const ac = new AbortController();
    const t0 = Date.now();
    const slept = sleep(10_000, ac.signal);
    setTimeout(() => ac.abort(new Error('stop')), 10);
    await expect(slept).rejects.toThrow('stop');
    expect(Date.now() - t0).toBeLessThan(5000);
    await expect(sleep(10_000, ac.signal)).rejects.toThrow('stop');
  });

  it('resolves normally with a signal that never aborts', async () => {
    await expect(sleep(5, new AbortController().signal)).resolves.toBeUndefined();
  });
});

describe('pollUntil', () => {
  it('returns the first value that is ok, reading no more', async () => {
    let n = 0;
    const v = await pollUntil(
      () => ++n,
      (x) => x >= 3,
      { timeoutMs: 5000, intervalMs: 1 },
    );
    expect([v, n]).toEqual([3, 3]);
  });

  it('returns the last value read when time runs out, for the caller to assert on', async () => {
    let n = 0;
    const t0 = Date.now();
    const v = await pollUntil(
      async () => ++n,
      () => false,
      { timeoutMs: 50, intervalMs: 10 },
    );
    expect(v).toBe(n);
    expect(n).toBeGreaterThan(1);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(50);
  });

  it('reads once with no wait when the first value is ok', async () => {
    const read = jest.fn(async () => 'ready');
    expect(await pollUntil(read, (s) => s === 'ready', { timeoutMs: 0, intervalMs: 1000 })).toBe('ready');
    expect(read).toHaveBeenCalledTimes(1);
  });
});
