import {
  TOPICS,
  UsageReportSchema,
  splitAtBoundaries,
  type Bus,
  type Tier,
  type UsageSample,
} from '@fleetforge/shared';
import type { Logger } from '@fleetforge/functions/adapters';

/** One thing that consumes resources on behalf of a tenant: a cell process or pod. */
export interface MeterTarget {
  /** Stable while it runs (`world/cell/incarnation`); a new key starts a new series. */
  key: string;
  tenant: string;
  tier: Tier;
  world: string | null;
  source: 'process' | 'kubernetes';
  /** Requests × time rather than measured consumption. */
  estimated: boolean;
  /**
   * process: cumulative CPU and current RSS of the real process; kubernetes: the
   * pod's requests as a rate (`cpuMillicores`) and its memory request.
   */
  read():
    | { kind: 'cumulative'; cpuMillisTotal: number; rssBytes: number }
    | { kind: 'rate'; cpuMillicores: number; memoryBytes: number }
    | undefined;
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
      const prev = this.last.get(target.key);
      const cur: Last =
        r.kind === 'cumulative'
          ? { at: t, cpuMillisTotal: r.cpuMillisTotal, rssBytes: r.rssBytes }
          : {
              at: t,
              cpuMillisTotal: (prev?.cpuMillisTotal ?? 0) + (prev ? (r.cpuMillicores * (t - prev.at)) / 1000 : 0),
              rssBytes: r.memoryBytes,
            };
      this.last.set(target.key, cur);
      if (!prev || t <= prev.at) continue;
      const dt = t - prev.at;
      // A counter that went down means a new process behind the same key: count from zero.
      const cpu =
        cur.cpuMillisTotal >= prev.cpuMillisTotal ? cur.cpuMillisTotal - prev.cpuMillisTotal : cur.cpuMillisTotal;
      const pieces = splitAtBoundaries({
        startMs: prev.at,
        endMs: t,
        quantities: {
          cpuMillis: Math.round(cpu),
          // Trapezoid: memory moves between readings; its average times the time.
          memoryMiBSeconds: Math.round((((prev.rssBytes + cur.rssBytes) / 2 / 2 ** 20) * dt) / 1000),
          vclusterMillis: 0,
          cellMillis: dt,
        },
      });
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

  /** Publishes buffered samples in batches; what fails stays buffered for the next tick. */
  async flush(): Promise<number> {
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
