import { SchedulerJobs, type SchedulerClientLike } from './scheduler-jobs';

/** A fake of the CloudSchedulerClient surface: one stored job, every call recorded. */
function fakeClient(schedule: string | undefined) {
  const calls: Array<{ method: string; request: unknown }> = [];
  const jobs = new Map<string, { name: string; schedule: string }>();
  const path = 'projects/p/locations/europe-west1/jobs/billing-export';
  if (schedule) jobs.set(path, { name: path, schedule });
  const client: SchedulerClientLike = {
    jobPath: (project, location, job) => `projects/${project}/locations/${location}/jobs/${job}`,
    getJob: async (request) => {
      calls.push({ method: 'getJob', request });
      const j = jobs.get(request.name);
      if (!j) throw Object.assign(new Error('5 NOT_FOUND: job not found'), { code: 5 });
      return [j];
    },
    updateJob: async (request) => {
      calls.push({ method: 'updateJob', request });
      jobs.set(request.job.name, { name: request.job.name, schedule: request.job.schedule });
      return [request.job];
    },
  };
  return { client, calls, jobs, path };
}

describe('SchedulerJobs.ensureSchedule', () => {
  it('updates only the schedule when live config changed it', async () => {
    const f = fakeClient('5 * * * *');
    const jobs = new SchedulerJobs('p', 'europe-west1', f.client);
    expect(await jobs.ensureSchedule('billing-export', '*/15 * * * *')).toEqual({
      changed: true,
      from: '5 * * * *',
      to: '*/15 * * * *',
    });
    expect(f.calls[1]).toEqual({
      method: 'updateJob',
      request: {
        job: { name: f.path, schedule: '*/15 * * * *', timeZone: 'Etc/UTC' },
        updateMask: { paths: ['schedule', 'time_zone'] },
      },
    });
    expect(f.jobs.get(f.path)!.schedule).toBe('*/15 * * * *');
  });

  it('does nothing when the job already runs on that schedule', async () => {
    const f = fakeClient('5 * * * *');
    expect(
      await new SchedulerJobs('p', 'europe-west1', f.client).ensureSchedule('billing-export', '5 * * * *'),
    ).toEqual({ changed: false, from: '5 * * * *', to: '5 * * * *' });
    expect(f.calls.map((c) => c.method)).toEqual(['getJob']);
  });

  it('names a missing job as a precondition (terraform creates it)', async () => {
    const f = fakeClient(undefined);
    await expect(
      new SchedulerJobs('p', 'europe-west1', f.client).ensureSchedule('billing-export', '5 * * * *'),
    ).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
  });
});
