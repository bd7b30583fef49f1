import type { AppsV1Api, CoreV1Api, V1Pod } from '@kubernetes/client-node';
import { sleep } from '@fleetforge/shared';
import { podReady } from './resources';

/**
 * Measures downtime as a user of the workloads would see it: every 100 ms, for
 * each deployment, is any replica ready in the old namespace or available in
 * the vcluster? The longest span with neither, over all deployments, is the
 * upgrade's downtime.
 */
export class AvailabilityMonitor {
  private timer: NodeJS.Timeout | undefined;
  private deployments: string[] = [];
  private vapps: AppsV1Api | undefined;
  private readonly downSince = new Map<string, number>();
  private worst = 0;
  private busy = false;

  constructor(
    private readonly core: CoreV1Api,
    private readonly ns: string,
  ) {}

  start(deployments: string[]): void {
    this.deployments = deployments;
    this.timer = setInterval(() => void this.probe(), 100);
  }

  virtual(vapps: AppsV1Api): void {
    this.vapps = vapps;
  }

  private async probe(): Promise<void> {
    if (this.busy || this.deployments.length === 0) return;
    this.busy = true;
    try {
      const now = Date.now();
      const pods = await this.core.listNamespacedPod({ namespace: this.ns }).catch(() => ({ items: [] as V1Pod[] }));
      for (const d of this.deployments) {
        const oldUp = pods.items.some((p) => podReady(p) && p.metadata?.name?.startsWith(`${d}-`));
        let newUp = false;
        if (this.vapps) {
          const dep = await this.vapps.readNamespacedDeployment({ name: d, namespace: this.ns }).catch(() => undefined);
          newUp = (dep?.status?.availableReplicas ?? 0) > 0;
        }
        if (oldUp || newUp) {
          const since = this.downSince.get(d);
          if (since !== undefined) this.worst = Math.max(this.worst, now - since);
          this.downSince.delete(d);
        } else if (!this.downSince.has(d)) {
          this.downSince.set(d, now);
        }
      }
    } finally {
      this.busy = false;
    }
  }

  async stop(): Promise<number> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    while (this.busy) await sleep(20);
    await this.probe();
    const now = Date.now();
    for (const since of this.downSince.values()) this.worst = Math.max(this.worst, now - since);
    return this.worst;
  }
}
