import pc from 'picocolors';

type Colors = ReturnType<typeof pc.createColors>;

let active: Colors = pc.createColors(false);

/**
 * Whether ffctl colours its output, decided from the environment `run` was given
 * rather than picocolors' import-time look at the process: `NO_COLOR` wins, then
 * `FORCE_COLOR`, else only a terminal gets colour. (picocolors alone colours
 * whenever `CI` is set, so piped output and tests under CI got escape codes.)
 */
export function colorEnabled(env: NodeJS.ProcessEnv, isTTY: boolean): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false';
  return isTTY && env.TERM !== 'dumb';
}

/** Sets the colours every ffctl formatter uses for this run. */
export function useColors(enabled: boolean): void {
  active = pc.createColors(enabled);
}

/** The colours of the current run (plain until {@link useColors} turns them on). */
export const color: Colors = new Proxy({} as Colors, {
  get: (_target, key: keyof Colors) => active[key],
});
