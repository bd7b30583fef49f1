import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { sleep } from '@fleetforge/shared';

export interface LeaseElectorOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  name: string;
  /** This candidate's identity (the pod name in a cluster). */
  identity: string;
  /** How long a lease holds without renewal before another candidate may take it. */
  leaseDurationMs?: number;
  /** A leader that could not renew for this long steps down (must be < leaseDuration). */
  renewDeadlineMs?: number;
  /** How often candidates try and the leader renews. */
  retryPeriodMs?: number;
  log?: (msg: string, data?: Record<string, unknown>) => void;
  /** Monotonic milliseconds (tests may fake it). */
  now?: () => number;
}

const errCode = (err: unknown) => (err as { code?: number }).code;

/**
 * Leader election on a `coordination.k8s.io/v1` Lease, as client-go does it: only one
 * agent of a Deployment executes commands. Expiry is judged by this process's own
 * clock from when it last saw the record change (never by the holder's timestamps, so
 * clock skew cannot cause two leaders), and every write is conditional on the
 * resourceVersion read. A leader that cannot renew within `renewDeadlineMs` (a
 * partition, or the process was paused) reports itself not leading at once; the
 * lease itself expires later (`leaseDurationMs`), so the two never overlap.
 */
export class LeaseElector {
  private readonly api: CoordinationV1Api;
  private readonly leaseMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;
  private readonly now: () => number;
  private observed: { key: string; at: number } | undefined;
  private lastRenew = Number.NEGATIVE_INFINITY;
  private leading = false;
  private timer: NodeJS.Timeout | undefined;
  private lostListeners: Array<(why: string) => void> = [];
  private stopped = false;

  constructor(private readonly opts: LeaseElectorOptions) {
    this.api = opts.kubeConfig.makeApiClient(CoordinationV1Api);
    this.leaseMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryMs = opts.retryPeriodMs ?? 2000;
    this.now = opts.now ?? (() => performance.now());
    if (this.renewDeadlineMs >= this.leaseMs) throw new Error('renewDeadlineMs must be shorter than leaseDurationMs');
  }

  /** True only while a renewal succeeded within the renew deadline. */
  isLeader(): boolean {
    if (this.leading && this.now() - this.lastRenew > this.renewDeadlineMs) this.lose('renew deadline passed');
    return this.leading;
  }

  onLost(listener: (why: string) => void): void {
    this.lostListeners.push(listener);
  }

  private lose(why: string): void {
    if (!this.leading) return;
    this.leading = false;
    this.opts.log?.('lost the agent lease', { why, identity: this.opts.identity });
    for (const l of this.lostListeners) l(why);
  }

  /** Resolves once this candidate holds the lease; keeps renewing it afterwards. */
  async acquire(signal?: AbortSignal): Promise<void> {
    for (;;) {
      if (signal?.aborted || this.stopped) throw new Error('leader election stopped');
      if (await this.tryOnce()) break;
      await sleep(this.retryMs);
    }
    this.timer = setInterval(() => {
      void this.tryOnce().then((ok) => {
        if (!ok) this.isLeader();
      });
    }, this.retryMs);
    this.timer.unref();
  }

  private spec(lease: V1Lease | undefined, acquiring: boolean) {
    const now = new V1MicroTime();
    return {
      holderIdentity: this.opts.identity,
      leaseDurationSeconds: Math.ceil(this.leaseMs / 1000),
      acquireTime: acquiring ? now : lease?.spec?.acquireTime,
      renewTime: now,
      leaseTransitions: (lease?.spec?.leaseTransitions ?? 0) + (acquiring && lease ? 1 : 0),
    };
  }

  /** One attempt to acquire or renew; true when this candidate holds the lease afterwards. */
  private async tryOnce(): Promise<boolean> {
    const { namespace, name, identity } = this.opts;
    const started = this.now();
    let lease: V1Lease | undefined;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (errCode(err) !== 404) {
        this.opts.log?.('lease read failed', { err: String(err) });
        return false;
      }
    }
    if (!lease) {
      try {
        await this.api.createNamespacedLease({
          namespace,
          body: { metadata: { name, namespace }, spec: this.spec(undefined, true) },
        });
        return this.won(started, true);
      } catch (err) {
        this.opts.log?.('lease create failed', { err: String(err) });
        return false;
      }
    }
    const holder = lease.spec?.holderIdentity ?? '';
    const key = `${holder}|${lease.metadata?.resourceVersion ?? ''}`;
    if (this.observed?.key !== key) this.observed = { key, at: this.now() };
    const mine = holder === identity;
    const expired = holder === '' || this.now() - this.observed.at > this.leaseMs;
    if (!mine && !expired) {
      if (this.leading) this.lose(`lease taken by ${holder}`);
      return false;
    }
    try {
      await this.api.replaceNamespacedLease({
        name,
        namespace,
        // Conditional on the version read: two candidates cannot both take an expired lease.
        body: { metadata: { ...lease.metadata, name, namespace }, spec: this.spec(lease, !mine) },
      });
      return this.won(started, !mine);
    } catch (err) {
      if (errCode(err) !== 409) this.opts.log?.('lease update failed', { err: String(err) });
      return false;
    }
  }

  private won(started: number, acquired: boolean): boolean {
    // A renewal counts from when it was sent: the lease may have been written any time after.
    this.lastRenew = started;
    if (acquired || !this.leading) this.opts.log?.('holding the agent lease', { identity: this.opts.identity });
    this.leading = true;
    return this.isLeader();
  }

  /** Stops renewing; with `release`, gives the lease up at once so a successor need not wait for it to expire. */
  async stop(release = true): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    if (!release || !this.leading) return;
    this.leading = false;
    try {
      const lease = await this.api.readNamespacedLease({ name: this.opts.name, namespace: this.opts.namespace });
      if (lease.spec?.holderIdentity !== this.opts.identity) return;
      await this.api.replaceNamespacedLease({
        name: this.opts.name,
        namespace: this.opts.namespace,
        body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 } },
      });
    } catch (err) {
      this.opts.log?.('lease release failed', { err: String(err) });
    }
  }
}
