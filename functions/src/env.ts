import { z } from 'zod';
import { parseOrThrow } from '@fleetforge/shared';

/** Environment of every function process; validated once at start-up. */
export const FunctionsEnvSchema = z.object({
  GOOGLE_CLOUD_PROJECT: z.string().min(1).default('fleetforge-local'),
  FIRESTORE_EMULATOR_HOST: z.string().optional(),
  PUBSUB_EMULATOR_HOST: z.string().optional(),
  /** prometheus: per-process registry (served on FF_METRICS_PORT); cloud-monitoring: custom metrics on GCP. */
  FF_METRICS: z.enum(['prometheus', 'cloud-monitoring', 'none']).default('prometheus'),
  FF_METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  /** Start/stop commands not acknowledged after this long are re-sent. */
  FF_RESEND_AFTER_MS: z.coerce.number().int().positive().default(5000),
  /** A serving cell with no load sample or report for this long is restarted (0 disables). */
  FF_STALE_AFTER_MS: z.coerce.number().int().nonnegative().default(15_000),
  /**
   * 1: a reconcile pass that reuses what it knows of a world's cells and operations
   * also reads them and fails on any difference (tests and the e2e stack; it costs the read it saves).
   */
  FF_CHECK_SNAPSHOTS: z
    .enum(['0', '1'])
    .default('0')
    .transform((v) => v === '1'),
  /** Dedicated-pool alerts are POSTed here (the pager; locally a receiver that logs them). */
  FF_ALERT_WEBHOOK_URL: z.string().url().optional(),
  /** Region of the function, the location of its Cloud Monitoring series. */
  FF_REGION: z.string().min(1).default('global'),
  /** Billing exports: a Cloud Storage bucket (GCP) or, locally, a folder standing in for one. */
  FF_EXPORTS_BUCKET: z.string().min(1).optional(),
  FF_EXPORTS_DIR: z.string().min(1).default('.fleetforge/exports'),
  /** Manifest signing key: base64 (Secret Manager secret env var on GCP) or a local 0600 key file. */
  FF_BILLING_KEY: z.string().min(1).optional(),
  FF_BILLING_KEY_FILE: z.string().min(1).default('.fleetforge/billing-hmac.key'),
  /** GCP: region of the Cloud Scheduler jobs; set, billingExport keeps its job's cron equal to config/billing. */
  FF_SCHEDULER_LOCATION: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});
export type FunctionsEnv = z.infer<typeof FunctionsEnvSchema>;

export function loadEnv(env: NodeJS.ProcessEnv = process.env): FunctionsEnv {
  return parseOrThrow(FunctionsEnvSchema, env, 'environment');
}
