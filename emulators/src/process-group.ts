import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { sleep } from '@fleetforge/shared';

export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  /** Resolves when the process has exited. */
  exited: Promise<number | null>;
  /** SIGTERM to the whole process group, SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Output goes here (appended); inherit when absent. */
  logFile?: string;
}

/**
 * Starts a process in its own process group, so stopping it also stops what it
 * started (the emulators' launcher scripts start a JVM; functions-framework none).
 */
export function spawnManaged(opts: SpawnOptions): ManagedProcess {
  const fd = opts.logFile ? openSync(opts.logFile, 'a') : undefined;
  const child = spawn(opts.command, opts.args, {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    detached: true,
    stdio: fd === undefined ? ['ignore', 'inherit', 'inherit'] : ['ignore', fd, fd],
  });
  if (fd !== undefined) closeSync(fd);
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(null));
  });
  const signalGroup = (signal: NodeJS.Signals) => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // Already gone.
    }
  };
  return {
    name: opts.name,
    child,
    exited,
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) {
        signalGroup('SIGKILL'); // grandchildren of an exited launcher
        return;
      }
      signalGroup('SIGTERM');
      const timer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      signalGroup('SIGKILL');
    },
  };
}

/** Whether a process with this pid still runs (signal 0 only checks). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls `url` until it answers (any HTTP status counts unless `okOnly`). */
export async function waitForHttp(
  url: string,
  timeoutMs: number,
  opts: { okOnly?: boolean; died?: Promise<unknown> } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let dead = false;
  void opts.died?.then(() => (dead = true));
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (!opts.okOnly || res.ok) return;
    } catch {
      // not up yet
    }
    if (dead) throw new Error(`${url}: the process exited before it answered`);
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await sleep(100);
  }
}

export interface SuperviseOptions extends SpawnOptions {
  /** Restart delay doubles from `initialMs` up to `maxMs`; resets after `resetAfterMs` of healthy running. */
  backoff?: { initialMs: number; maxMs: number; resetAfterMs: number };
  /**
   * Liveness probe, as a kubelet runs one: GET `url` every `periodMs`; after
   * `failureThreshold` consecutive failures (no answer within `timeoutMs`, or not 2xx)
   * the process group is killed and restarted. Probing starts once it first answers.
   */
  liveness?: { url: string; periodMs: number; timeoutMs: number; failureThreshold: number };
  /** Called on each restart with the count so far and why. */
  onRestart?: (restarts: number, reason: string) => void;
}

export interface SupervisedProcess {
  name: string;
  /** The current incarnation (replaced on restart). */
  current(): ManagedProcess;
  restarts(): number;
  /** Stops supervising and stops the current process (SIGTERM, SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Keeps a process running like a kubelet keeps a container running: restarted with
 * exponential backoff when it exits, killed and restarted when its liveness probe
 * fails. It never gives up (CrashLoopBackOff keeps retrying), so a crash of what it
 * supervises never takes the rest of the stack down.
 */
export function supervise(opts: SuperviseOptions): SupervisedProcess {
  const backoff = opts.backoff ?? { initialMs: 500, maxMs: 30_000, resetAfterMs: 60_000 };
  let proc = spawnManaged(opts);
  let restarts = 0;
  let delay = backoff.initialMs;
  let stopped = false;
  let probeTimer: NodeJS.Timeout | undefined;
  let restartTimer: NodeJS.Timeout | undefined;

  const watch = (p: ManagedProcess) => {
    const startedAt = Date.now();
    let failures = 0;
    let answered = false;
    let probing = false;
    let killedByProbe = false;
    if (opts.liveness) {
      const live = opts.liveness;
      probeTimer = setInterval(() => {
        if (probing || stopped) return;
        probing = true;
        void fetch(live.url, { signal: AbortSignal.timeout(live.timeoutMs) })
          .then((res) => res.ok)
          .catch(() => false)
          .then((ok) => {
            probing = false;
            if (ok) {
              answered = true;
              failures = 0;
              return;
            }
            if (!answered || stopped) return;
            failures += 1;
            if (failures >= live.failureThreshold && !killedByProbe) {
              killedByProbe = true;
              void p.stop(0);
            }
          });
      }, live.periodMs);
    }
    void p.exited.then((code) => {
      clearInterval(probeTimer);
      if (stopped) return;
      if (Date.now() - startedAt > backoff.resetAfterMs) delay = backoff.initialMs;
      const reason = killedByProbe
        ? `liveness probe failed ${opts.liveness!.failureThreshold} times`
        : `exited (code ${code})`;
      restartTimer = setTimeout(() => {
        if (stopped) return;
        restarts += 1;
        opts.onRestart?.(restarts, reason);
        proc = spawnManaged(opts);
        watch(proc);
      }, delay);
      delay = Math.min(delay * 2, backoff.maxMs);
    });
  };
  watch(proc);

  return {
    name: opts.name,
    current: () => proc,
    restarts: () => restarts,
    async stop(graceMs?: number) {
      stopped = true;
      clearInterval(probeTimer);
      clearTimeout(restartTimer);
      await proc.stop(graceMs);
    },
  };
}
