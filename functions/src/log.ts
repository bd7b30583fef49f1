import { createHash } from 'node:crypto';
import pino, { type Logger } from 'pino';

export type { Logger };

/** pino's levels in Cloud Logging's LogSeverity set (which has no TRACE, WARN or FATAL). */
const SEVERITY: Record<string, string> = {
  trace: 'DEBUG',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARNING',
  error: 'ERROR',
  fatal: 'CRITICAL',
};

export function cloudSeverity(level: string): string {
  return SEVERITY[level] ?? 'DEFAULT';
}

/**
 * The `logging.googleapis.com/trace` value for a correlation id: a trace id derived
 * from it (32 hex digits, as Cloud Trace ids are), so Logs Explorer groups every
 * line of one operation, across functions, as one trace.
 */
export function traceFor(projectId: string, correlationId: string): string {
  const traceId = createHash('sha256').update(correlationId).digest('hex').slice(0, 32);
  return `projects/${projectId}/traces/${traceId}`;
}

const TRACE = 'logging.googleapis.com/trace';

/**
 * Structured JSON logs on stderr. `severity` is what Cloud Logging reads;
 * `correlationId` ties every line of one operation together, and on GCP (a project
 * is known) also sets the trace field.
 */
export function createLogger(
  component: string,
  level = process.env.LOG_LEVEL ?? 'info',
  projectId = process.env.GOOGLE_CLOUD_PROJECT,
  destination: pino.DestinationStream = pino.destination({ fd: 2, sync: false }),
): Logger {
  return pino(
    {
      level,
      base: { component },
      messageKey: 'message',
      formatters: { level: (label) => ({ severity: cloudSeverity(label), level: label }) },
      // The correlation id comes with a line's own object or with its child logger's bindings.
      mixin: (obj: object, _level: number, logger: Logger): Record<string, string> => {
        const id =
          (obj as { correlationId?: unknown }).correlationId ??
          (logger.bindings() as { correlationId?: unknown }).correlationId;
        return projectId && typeof id === 'string' && id !== 'none' ? { [TRACE]: traceFor(projectId, id) } : {};
      },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
