import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs on stderr. `severity` is what Cloud Logging reads;
 * `correlationId` ties every line of one operation together.
 */
export function createLogger(component: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino(
    {
      level,
      base: { component },
      messageKey: 'message',
      formatters: { level: (label) => ({ severity: label.toUpperCase(), level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ fd: 2, sync: false }),
  );
}
