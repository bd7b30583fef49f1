import { intervalCron, nextCronRun, type BillingConfig, type SchedulerJobDef } from '@fleetforge/shared';
import type { FieldLog } from '../log';

export interface SchedulerRunnerOptions {
  jobs: readonly SchedulerJobDef[];
  /** Base URL of each function, by name. */
  urls: Record<string, string>;
  log: FieldLog;
  /** Reads `config/billing` (live config; read again before every run). */
  billingConfig: () => Promise<BillingConfig>;
  /** Tests and benchmarks: every job this often, config or not. */
  fixedIntervalSeconds?: number;
  /** How often a config-driven job looks at the clock and the config (default 15 s). */
  checkMs?: number;
  now?: () => number;
  /** Sends the scheduler's request (default: POST, as Cloud Scheduler does). */
  fire?: (url: string, job: SchedulerJobDef) => Promise<void>;
}

/**
 * The local Cloud Scheduler: POSTs each job's function on its schedule. Jobs with a
 * fixed schedule run every `localIntervalSeconds` (a dev loop is not a minute
 * long); jobs whose interval is live config run when their cron would on GCP,
 * reading the config before each decision, so a changed interval takes effect
 * without a restart, as the function makes it do on GCP.
 */
export function startSchedulerRunner(opts: SchedulerRunnerOptions): { stop(): void } {
  const now = opts.now ?? Date.now;
  const fire =
    opts.fire ??
    (async (url: string, job: SchedulerJobDef) => {
      await fetch(url, { method: 'POST', headers: { 'x-correlation-id': `job-${job.name}-${now()}` } });
    });
  const run = (job: SchedulerJobDef) =>
    fire(opts.urls[job.target]!, job).catch((err: unknown) =>
      opts.log.warn({ job: job.name, err: String(err) }, 'scheduler job failed'),
    );
  const timers: NodeJS.Timeout[] = [];

  for (const job of opts.jobs) {
    if (!job.intervalFromConfig || opts.fixedIntervalSeconds !== undefined) {
      const every = (opts.fixedIntervalSeconds ?? job.localIntervalSeconds) * 1000;
      timers.push(setInterval(() => void run(job), every));
      continue;
    }
    let minutes: number | undefined;
    let next = Infinity;
    let checking = false;
    const check = async () => {
      if (checking) return;
      checking = true;
      try {
        const config = await opts.billingConfig().catch((err: unknown) => {
          opts.log.warn({ job: job.name, err: String(err) }, 'cannot read config/billing; keeping the schedule');
          return undefined;
        });
        const t = now();
        if (config && config.intervalMinutes !== minutes) {
          minutes = config.intervalMinutes;
          next = nextCronRun(minutes, t);
          opts.log.info(
            {
              job: job.name,
              intervalMinutes: minutes,
              cron: intervalCron(minutes),
              next: new Date(next).toISOString(),
            },
            'scheduler: interval from config/billing',
          );
        }
        if (minutes !== undefined && t >= next) {
          next = nextCronRun(minutes, t);
          await run(job);
        }
      } finally {
        checking = false;
      }
    };
    void check();
    timers.push(setInterval(() => void check(), opts.checkMs ?? 15_000));
  }
  return {
    stop: () => {
      for (const t of timers) clearInterval(t);
      timers.length = 0;
    },
  };
}
