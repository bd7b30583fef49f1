import { cloudSeverity, createLogger, traceFor } from './log';

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  return { lines, stream: { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) } };
}

describe('createLogger', () => {
  it('maps every pino level to a Cloud Logging severity', () => {
    expect(['trace', 'debug', 'info', 'warn', 'error', 'fatal'].map(cloudSeverity)).toEqual([
      'DEBUG',
      'DEBUG',
      'INFO',
      'WARNING',
      'ERROR',
      'CRITICAL',
    ]);
    const out = capture();
    const log = createLogger('test', 'trace', 'p', out.stream);
    log.warn('w');
    log.fatal('f');
    expect(out.lines.map((l) => l.severity)).toEqual(['WARNING', 'CRITICAL']);
  });

  it('sets the trace field from the correlation id, on child loggers and single lines alike', () => {
    const out = capture();
    const log = createLogger('test', 'info', 'demo-project', out.stream);
    log.child({ correlationId: 'op-1' }).info('child');
    log.info({ correlationId: 'op-1' }, 'line');
    log.info('none');
    const trace = traceFor('demo-project', 'op-1');
    expect(trace).toMatch(/^projects\/demo-project\/traces\/[0-9a-f]{32}$/);
    expect(out.lines.map((l) => l['logging.googleapis.com/trace'])).toEqual([trace, trace, undefined]);
    expect(traceFor('demo-project', 'op-2')).not.toBe(trace);
  });

  it('sets no trace without a project', () => {
    const out = capture();
    createLogger('test', 'info', '', out.stream).info({ correlationId: 'op-1' }, 'line');
    expect(out.lines[0]).not.toHaveProperty('logging.googleapis.com/trace');
  });
});
