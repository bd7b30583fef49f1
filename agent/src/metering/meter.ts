import {
  TOPICS,
  UsageReportSchema,
  splitAtBoundaries,
  type Bus,
  type MeasuredInterval,
  type Tier,
  type UsageSample,
} from '@fleetforge/shared';
import type { Logger } from '@fleetforge/functions/adapters';

/** What a target says at one tick (undefined: it could not be read, which leaves a gap). */
export type MeterReading =
  /** A real process: its cumulative CPU and current resident set. */
  | { kind: 'cumulative'; cpuMillisTotal: number; rssBytes: number }
  /**
   * Pods: their requests as a rate (`cpuMillicores`) and their memory request, over the
   * interval up to this reading; `pods` of them (default 1) count as cell/pod time.
   */
  | { kind: 'rate'; cpuMillicores: number; memoryBytes: number; pods?: number }
  /**
   * A tenant's vcluster: healthy without a break since `upSince` (epoch ms), or not
   * (null). Only time it was up at both ends of an interval, and not before `upSince`,
   * counts as vcluster time; a reading that is not up ends the series.
   */
  | { kind: 'vcluster'; upSince: number | null };

/** One thing that consumes resources on behalf of a tenant: a cell process or pod, a tenant's pods, its vcluster. */
export interface MeterTarget {
  /**
   * Stable while it runs (`world/cell/incarnation`, `pods:<namespace>`, `vcluster:<tenant>`);
   * a new key starts a new series. Sample ids derive from it, so keys must never collide.
   */
  key: string;
  tenant: string;
  tier: Tier;
  world: string | null;
  source: 'process' | 'kubernetes';
  /** Requests × time rather than measured consumption. */
  estimated: boolean;
  read(): MeterReading | undefined;
}

interface Last {
  at: number;
  cpuMillisTotal: number;
  rssBytes: number;
}

export interface UsageMeterOptions {
  agentId: string;
  bus: Bus;
  log: Logger;
  targets: () => MeterTarget[];
  now?: () => number;
  /** Samples kept for re-sending while publishing fails (oldest dropped beyond, with a warning). */
  maxBuffered?: number;
}

/**
 * Meters tenants' usage and publishes it as samples on `agent-reports`. Each tick
 * turns the change since the previous reading into one interval per target, cut at
 * hour boundaries; sample ids are derived from (agent, target, start), so a re-sent
 * batch is recognized as the same samples. A target that cannot be read leaves a
 * gap (no sample); nothing is interpolated.
 */
export class UsageMeter {
  private readonly last = new Map<string, Last>();
  private buffer: UsageSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<number> = Promise.resolve(0);
  private readonly now: () => number;

  constructor(private readonly opts: UsageMeterOptions) {
    this.now = opts.now ?? Date.now;
  }

  start(periodMs: number): void {
    this.tick();
    this.timer = setInterval(() => {
      this.tick();
      void this.flush();
    }, periodMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.tick();
    await this.flush();
  }

  /** Reads every target; returns the samples buffered for publishing. */
  tick(): UsageSample[] {
    const t = this.now();
    const seen = new Set<string>();
    for (const target of this.opts.targets()) {
      seen.add(target.key);
      const r = target.read();
      if (!r) continue;
      const interval = r.kind === 'vcluster' ? this.uptime(target.key, t, r.upSince) : this.usage(target.key, t, r);
      if (!interval) continue;
      const pieces = splitAtBoundaries(interval);
      for (const p of pieces) {
        this.buffer.push({
          id: `${this.opts.agentId}:${target.key.replace(/[^A-Za-z0-9._:-]/g, '.')}:${p.startMs}`.slice(0, 200),
          tenant: target.tenant,
          tier: target.tier,
          world: target.world,
          source: target.source,
          estimated: target.estimated,
          agentId: this.opts.agentId,
          start: new Date(p.startMs).toISOString(),
          end: new Date(p.endMs).toISOString(),
          ...p.quantities,
        });
      }
    }
    for (const key of this.last.keys()) if (!seen.has(key)) this.last.delete(key);
    const max = this.opts.maxBuffered ?? 50_000;
    if (this.buffer.length > max) {
      this.opts.log.warn({ dropped: this.buffer.length - max }, 'usage buffer full; oldest samples dropped (a gap)');
      this.buffer = this.buffer.slice(-max);
    }
    return this.buffer;
  }

  /** A process's or pods' consumption since the previous reading of this key. */
  private usage(key: string, t: number, r: Exclude<MeterReading, { kind: 'vcluster' }>): MeasuredInterval | undefined {
    const prev = this.last.get(key);
    const cur: Last =
      r.kind === 'cumulative'
        ? { at: t, cpuMillisTotal: r.cpuMillisTotal, rssBytes: r.rssBytes }
        : {
            at: t,
            cpuMillisTotal: (prev?.cpuMillisTotal ?? 0) + (prev ? (r.cpuMillicores * (t - prev.at)) / 1000 : 0),
            rssBytes: r.memoryBytes,
          };
    this.last.set(key, cur);
    if (!prev || t <= prev.at) return undefined;
    const dt = t - prev.at;
    // A counter that went down means a new process behind the same key: count from zero.
    const cpu =
      cur.cpuMillisTotal >= prev.cpuMillisTotal ? cur.cpuMillisTotal - prev.cpuMillisTotal : cur.cpuMillisTotal;
    return {
      startMs: prev.at,
      endMs: t,
      quantities: {
        cpuMillis: Math.round(cpu),
        // Trapezoid: memory moves between readings; its average times the time.
        memoryMiBSeconds: Math.round((((prev.rssBytes + cur.rssBytes) / 2 / 2 ** 20) * dt) / 1000),
        vclusterMillis: 0,
        cellMillis: r.kind === 'rate' ? Math.round((r.pods ?? 1) * dt) : dt,
      },
    };
  }

  /**
   * A vcluster's time up since the previous reading of this key: from the later of that
   * reading and `upSince` (it may have gone down and come back in between). Not up: the
   * series ends, so the time until it is seen up again at two readings is never billed.
   */
  private uptime(key: string, t: number, upSince: number | null): MeasuredInterval | undefined {
    const prev = this.last.get(key);
    if (upSince === null) {
      this.last.delete(key);
      return undefined;
    }
    if (prev && t <= prev.at) return undefined;
    this.last.set(key, { at: t, cpuMillisTotal: 0, rssBytes: 0 });
    if (!prev) return undefined;
    const startMs = Math.max(prev.at, upSince);
    if (t <= startMs) return undefined;
    return {
      startMs,
      endMs: t,
      quantities: { cpuMillis: 0, memoryMiBSeconds: 0, vclusterMillis: t - startMs, cellMillis: 0 },
    };
  }

  /**
   * Publishes buffered samples in batches; what fails stays buffered for the next tick.
   * Flushes run one after another: two at once would both send the head of the buffer
   * and then both drop it, losing samples buffered meanwhile (a publish slower than a tick).
   */
  flush(): Promise<number> {
    const next = this.flushing.then(() => this.flushOnce());
    this.flushing = next.catch(() => 0);
    return next;
  }

  private async flushOnce(): Promise<number> {
    let sent = 0;
    while (this.buffer.length > 0) {
      const batch = this.buffer.slice(0, 500);
      const report = UsageReportSchema.parse({
        kind: 'usage',
        agentId: this.opts.agentId,
        at: new Date(this.now()).toISOString(),
        samples: batch,
        correlationId: `usage-${this.opts.agentId}-${batch[0]!.start}`,
      });
      try {
        await this.opts.bus.publish(TOPICS.agentReports, report, { correlationId: report.correlationId });
      } catch (err) {
        this.opts.log.warn({ err: String(err), buffered: this.buffer.length }, 'usage publish failed; kept for retry');
        break;
      }
      this.buffer = this.buffer.slice(batch.length);
      sent += batch.length;
    }
    return sent;
  }
}
