import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { createLogger } from '@fleetforge/functions/adapters';
import type { RunningKube } from '@fleetforge/emulators';
export { pidAlive } from '@fleetforge/emulators';
import type { DriverName } from '../stack/config';
import { startPrivateKube } from '../stack/kube';
import { startPrivateStack, type RunningStack } from '../stack/stack';

const run = promisify(execFile);
export const ROOT = resolve(__dirname, '..', '..', '..');

export interface Harness {
  stack: RunningStack;
  stateDir: string;
  /** With the Kubernetes driver: the private Kubernetes tier the cells run on. */
  kube?: RunningKube;
  /** Stops the stack, then the Kubernetes tier if there is one. */
  stop(): Promise<void>;
  /** Runs the built ffctl as a user would, against this stack. */
  ffctl(args: string[], opts?: { token?: string }): Promise<{ code: number; stdout: string; stderr: string }>;
}

/**
 * Starts a private stack from the built packages (run `npm run build` first; `npm test` does).
 * With the `kubernetes` driver it first starts a private Kubernetes tier for the cells.
 */
export async function startHarness(opts: { driver?: DriverName } = {}): Promise<Harness> {
  const stateDir = mkdtempSync(join(tmpdir(), 'ff-e2e-'));
  const kube = opts.driver === 'kubernetes' ? await startPrivateKube(ROOT) : undefined;
  let stack: RunningStack;
  try {
    stack = await startPrivateStack({
      stateDir,
      project: 'ff-e2e',
      root: ROOT,
      log: createLogger('e2e', 'warn'),
      schedulerIntervalSeconds: 5,
      driver: opts.driver,
      kubeDir: kube?.state.dir,
    });
  } catch (err) {
    await kube?.stop();
    throw err;
  }
  const stop = async () => {
    await stack.stop();
    await kube?.stop();
  };
  const ffctl: Harness['ffctl'] = async (args, opts = {}) => {
    try {
      const { stdout, stderr } = await run(process.execPath, [join(ROOT, 'scripts', 'bin', 'ffctl.js'), ...args], {
        cwd: ROOT,
        env: {
          ...process.env,
          FLEETFORGE_API: stack.file.api,
          FLEETFORGE_TOKEN: opts.token ?? stack.token,
          NO_COLOR: '1',
        },
        timeout: 60_000,
      });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  };
  return { stack, stateDir, kube, stop, ffctl };
}
