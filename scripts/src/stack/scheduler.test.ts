import { BillingConfigSchema, SCHEDULER_JOBS, type BillingConfig, type SchedulerJobDef } from '@fleetforge/shared';
import { startSchedulerRunner } from './scheduler';

const urls = { sentinel: 'http://sentinel', billingExport: 'http://billing' };

function runner(config: () => Promise<BillingConfig>, fixedIntervalSeconds?: number) {
  const fired: { job: string; at: string }[] = [];
  const warnings: string[] = [];
  const r = startSchedulerRunner({
    jobs: SCHEDULER_JOBS,
    urls,
    log: { info: () => undefined, warn: (_f: object, m: string) => void warnings.push(m) },
    billingConfig: config,
    fixedIntervalSeconds,
    checkMs: 1000,
    fire: async (_url: string, job: SchedulerJobDef) => {
      fired.push({ job: job.name, at: new Date().toISOString() });
    },
  });
  const billing = () => fired.filter((f) => f.job === 'billing-export').map((f) => f.at.slice(11, 19));
  return { r, fired, warnings, billing };
}

describe('local scheduler runner', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: new Date('2026-12-02T10:17:30.000Z') });
  });
  afterEach(() => jest.useRealTimers());

  it('runs fixed jobs every localIntervalSeconds and billingExport when config/billing says', async () => {
    const s = runner(async () => BillingConfigSchema.parse({ intervalMinutes: 15 }));
    await jest.advanceTimersByTimeAsync(35_000);
    expect(s.fired.filter((f) => f.job === 'sentinel-sweep')).toHaveLength(3);
    expect(s.billing()).toEqual([]);
    // 10:17:30 → 10:46: the */15 cron fires at 10:30 and 10:45 (checked every second here).
    await jest.advanceTimersByTimeAsync(28 * 60_000);
    expect(s.billing()).toEqual(['10:30:00', '10:45:00']);
    s.r.stop();
  });

  it('takes a changed interval without a restart', async () => {
    let config = BillingConfigSchema.parse({}); // hourly, minute 5
    const s = runner(async () => config);
    await jest.advanceTimersByTimeAsync(50 * 60_000); // to 11:07:30
    expect(s.billing()).toEqual(['11:05:00']);
    config = BillingConfigSchema.parse({ intervalMinutes: 1 });
    await jest.advanceTimersByTimeAsync(3 * 60_000);
    expect(s.billing()).toEqual(['11:05:00', '11:08:00', '11:09:00', '11:10:00']);
    s.r.stop();
  });

  it('keeps its schedule when the config cannot be read, and says so', async () => {
    let fail = false;
    const s = runner(async () => {
      if (fail) throw new Error('firestore down');
      return BillingConfigSchema.parse({ intervalMinutes: 5 });
    });
    await jest.advanceTimersByTimeAsync(1000);
    fail = true;
    await jest.advanceTimersByTimeAsync(10 * 60_000);
    expect(s.billing()).toEqual(['10:20:00', '10:25:00']);
    expect(s.warnings).toContain('cannot read config/billing; keeping the schedule');
    s.r.stop();
  });

  it('runs every job at the fixed interval tests ask for, config or not', async () => {
    const config = jest.fn(async () => BillingConfigSchema.parse({}));
    const s = runner(config, 5);
    await jest.advanceTimersByTimeAsync(20_000);
    expect(s.billing()).toHaveLength(4);
    expect(config).not.toHaveBeenCalled();
    s.r.stop();
  });
});
