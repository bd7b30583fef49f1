/**
 * The HTTP functions' request handlers. Each takes the runtime it gets its
 * dependencies from, so index.ts registers them on the production one.
 */
import type { HttpFunction } from '@google-cloud/functions-framework';
import { SCHEDULER_JOBS, intervalCron, parseOrThrow, toFleetError } from '@fleetforge/shared';
import { SchedulerJobs } from './adapters/scheduler-jobs';
import { apiHttpFunction } from './api/http-function';
import { ApiRouter } from './api/router';
import {
  BillingExportRequestSchema,
  billingExport,
  billingExportDue,
  updateCostGauges,
  type BillingDeps,
} from './usecases/billing-export';
import { sentinelSweep } from './handlers/sentinel';
import { readBillingConfig } from './store/exports';
import type { Deps } from './deps';
import type { FunctionsEnv } from './env';

/** Where a function gets what it needs; production builds each from the environment once per instance (runtime.ts). */
export interface FunctionRuntime {
  deps(component: string): Deps;
  billing(): BillingDeps;
  env(): FunctionsEnv;
}

/** The HTTPS API used by ffctl and clients. */
export function serveApi(runtime: FunctionRuntime): HttpFunction {
  let router: ApiRouter | undefined;
  let apiDeps: Deps | undefined;
  return apiHttpFunction(
    () => (router ??= new ApiRouter((apiDeps ??= runtime.deps('api')))),
    // Before answering: once the response is sent, the instance gets no CPU to write with.
    async () => apiDeps?.metrics.flush?.(),
  );
}

/** The scheduled sweep: re-queues every world for reconcile. */
export function serveSentinel(runtime: FunctionRuntime): HttpFunction {
  return async (req, res) => {
    const deps = runtime.deps('sentinel');
    try {
      const correlationId = req.get('x-correlation-id') ?? deps.ids.next('sweep');
      const out = await sentinelSweep(deps, correlationId);
      await deps.metrics.flush?.();
      res.status(200).json(out);
    } catch (err) {
      const e = toFleetError(err, 'UNAVAILABLE');
      await deps.metrics.flush?.();
      res.status(e.httpStatus).json(e.toJSON());
    }
  };
}

/** Cloud Scheduler (locally the stack's runner) POSTs here: close the last window, refresh cost gauges. */
export function serveBillingExport(runtime: FunctionRuntime): HttpFunction {
  return async (req, res) => {
    const deps = runtime.deps('billingExport');
    const correlationId = req.get('x-correlation-id') ?? deps.ids.next('billing');
    // Only a POST (the scheduler's) runs an export; a GET is a liveness probe.
    if (req.method !== 'POST') {
      res.status(200).json({ ok: true });
      return;
    }
    try {
      const body: unknown = req.body && typeof req.body === 'object' ? req.body : {};
      const request = parseOrThrow(BillingExportRequestSchema, body, 'request body');
      const billing = runtime.billing();
      const gauges = await updateCostGauges(deps, correlationId);
      // On GCP the run interval is live config: keep the Cloud Scheduler job's cron equal to it.
      const env = runtime.env();
      if (env.FF_SCHEDULER_LOCATION) {
        const config = await readBillingConfig(deps.store);
        const job = SCHEDULER_JOBS.find((j) => j.target === 'billingExport')!;
        const r = await new SchedulerJobs(env.GOOGLE_CLOUD_PROJECT, env.FF_SCHEDULER_LOCATION).ensureSchedule(
          job.name,
          intervalCron(config.intervalMinutes),
        );
        if (r.changed) deps.log.info({ job: job.name, ...r }, 'billing schedule updated from config/billing');
      }
      const operator = 'system:billingExport';
      // An empty body (the scheduler's) exports every due window; a body names one.
      const results =
        request.window !== undefined || request.now
          ? [await billingExport(deps, billing, request, operator, correlationId)]
          : await billingExportDue(deps, billing, operator, correlationId);
      res.status(200).json({ results, gauges });
    } catch (err) {
      const e = toFleetError(err, 'UNAVAILABLE');
      deps.metrics.inc('fleetforge_billing_exports_total', { outcome: 'failed' });
      deps.log.error({ code: e.code, err: e.message, correlationId }, 'billing export failed');
      res.status(e.httpStatus).json(e.toJSON());
    }
  };
}
