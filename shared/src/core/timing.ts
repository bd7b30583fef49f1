/**
 * The one sleep and the one poll loop. Timers are globals (no node: module), so
 * every package can use these; engines still take time as an argument.
 */

/** Resolves after `ms` milliseconds; with a signal, rejects with its reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (!signal) return new Promise((resolve) => setTimeout(resolve, ms));
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export interface PollOptions {
  /** Stop reading after this long (the last read may start just before). */
  timeoutMs: number;
  /** Pause between reads. */
  intervalMs: number;
}

/**
 * Reads until `ok` holds or `timeoutMs` has passed, pausing `intervalMs` between
 * reads, and returns the last value read: the caller asserts on it (or throws its
 * own error), so a timeout shows what was last seen.
 */
export async function pollUntil<T>(
  read: () => T | Promise<T>,
  ok: (value: T) => boolean,
  { timeoutMs, intervalMs }: PollOptions,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!ok(value) && Date.now() < deadline) {
    await sleep(intervalMs);
    value = await read();
  }
  return value;
}

/** Resolves once `cond` holds (read every `intervalMs`, default 25 ms); else throws `timed out waiting for <what>`. */
export async function waitUntil(
  what: string,
  cond: () => boolean | Promise<boolean>,
  { timeoutMs, intervalMs = 25 }: { timeoutMs: number; intervalMs?: number },
): Promise<void> {
  if (!(await pollUntil(cond, (ok) => ok, { timeoutMs, intervalMs })))
    throw new Error(`timed out waiting for ${what} (${timeoutMs} ms)`);
}
