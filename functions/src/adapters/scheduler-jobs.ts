import { CloudSchedulerClient } from '@google-cloud/scheduler';
import { FleetError } from '@fleetforge/shared';

/** The part of @google-cloud/scheduler's CloudSchedulerClient used here (tests pass a fake). */
export interface SchedulerClientLike {
  jobPath(project: string, location: string, job: string): string;
  getJob(request: { name: string }): Promise<[{ name?: string | null; schedule?: string | null }, ...unknown[]]>;
  updateJob(request: {
    job: { name: string; schedule: string; timeZone: string };
    updateMask: { paths: string[] };
  }): Promise<unknown>;
}

/**
 * Keeps a Cloud Scheduler job's schedule equal to live config: terraform creates the
 * job; a config change is applied here by updating only its `schedule` (and time zone).
 */
export class SchedulerJobs {
  constructor(
    private readonly project: string,
    private readonly location: string,
    private readonly client: SchedulerClientLike = new CloudSchedulerClient(),
  ) {}

  async ensureSchedule(job: string, schedule: string): Promise<{ changed: boolean; from: string | null; to: string }> {
    const name = this.client.jobPath(this.project, this.location, job);
    let current: string | null;
    try {
      const [found] = await this.client.getJob({ name });
      current = found.schedule ?? null;
    } catch (err) {
      const code = (err as { code?: number }).code;
      // gRPC NOT_FOUND: terraform has not created it; nothing to update.
      if (code === 5)
        throw new FleetError('FAILED_PRECONDITION', `scheduler job ${name} does not exist`, { cause: err });
      throw new FleetError('UNAVAILABLE', `cannot read scheduler job ${name}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (current === schedule) return { changed: false, from: current, to: schedule };
    await this.client.updateJob({
      job: { name, schedule, timeZone: 'Etc/UTC' },
      updateMask: { paths: ['schedule', 'time_zone'] },
    });
    return { changed: true, from: current, to: schedule };
  }
}
