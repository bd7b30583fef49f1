import { fork } from 'node:child_process';
import { constants } from 'node:os';
import type { V1Pod } from '@kubernetes/client-node';
import { sleep } from '@fleetforge/shared';
import { freePort } from '../ports';
import type { PodHandle, PodRunner } from './node-shim';

/** Label the Kubernetes driver puts on cell pods. */
export const CELL_ROLE_LABEL = 'fleetforge.dev/role';

/**
 * Runs a cell pod's container as the same cell process the process driver runs,
 * on a loopback port the shim picks (in a cluster the pod would get its own IP).
 * Ready is the cell's own /readyz answering 200, as a kubelet probe would see it.
 */
export class CellRunner implements PodRunner {
  readonly name = 'cell';

  constructor(private readonly cellMain: string) {}

  matches(pod: V1Pod): boolean {
    return pod.metadata?.labels?.[CELL_ROLE_LABEL] === 'cell';
  }

  async start(_pod: V1Pod, env: Record<string, string>): Promise<PodHandle> {
    const port = await freePort();
    const child = fork(this.cellMain, [], {
      env: { ...process.env, ...env, FF_PORT: String(port) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    const exited = new Promise<number | null>((resolve) => {
      // As a container runtime reports it: a signal is 128 + its number (SIGKILL → 137).
      child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : null)));
      child.once('error', () => resolve(null));
    });
    const endpoint = `http://127.0.0.1:${port}`;
    const ready = (async () => {
      for (let i = 0; ; i++) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`cell exited with ${child.exitCode}`);
        try {
          const res = await fetch(`${endpoint}/readyz`, { signal: AbortSignal.timeout(1000) });
          if (res.ok) return;
        } catch {
          // not listening yet
        }
        await sleep(Math.min(20 * (i + 1), 200));
      }
    })();
    return {
      ready,
      exited,
      annotations: () => ({ 'fleetforge.dev/endpoint': endpoint }),
      async stop() {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      },
    };
  }
}
