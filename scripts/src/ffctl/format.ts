import { color } from './colors';
import YAML from 'yaml';
import { formatRect, type CellView, type LifecycleEvent, type OperationDoc, type WorldView } from '@fleetforge/shared';
import { CliError } from './client';
import { kubectlTable, render } from './table';

/** csv: billing commands print their rows as CSV; other commands print their table. */
export type OutputFormat = 'table' | 'json' | 'yaml' | 'csv';

export function emit(format: OutputFormat, value: unknown, table: () => string): string {
  if (format === 'json') return `${JSON.stringify(value, null, 2)}\n`;
  if (format === 'yaml') return YAML.stringify(value);
  return `${table()}\n`;
}

function phaseColor(phase: string): string {
  switch (phase) {
    case 'Ready':
    case 'Completed':
      return color.green(phase);
    case 'Degraded':
    case 'Failed':
    case 'RolledBack':
      return color.red(phase);
    case 'Deleting':
    case 'Terminated':
      return color.dim(phase);
    default:
      return color.yellow(phase);
  }
}

export function worldsTable(worlds: WorldView[]): string {
  const t = kubectlTable({
    head: ['NAME', 'PHASE', 'READY', 'CELLS', 'EPOCH', 'GEN', 'AGE'].map((h) => color.bold(h)),
  });
  for (const w of worlds) {
    t.push([
      w.name,
      phaseColor(w.status.phase),
      w.status.ready ? color.green('true') : color.yellow('false'),
      String(w.status.cellsActive),
      String(w.status.routingEpoch),
      `${w.status.observedGeneration}/${w.status.generation}`,
      age(w.createdAt),
    ]);
  }
  return render(t);
}

export function worldDetail(w: WorldView): string {
  const s = w.spec;
  const lines = [
    `${color.bold('World')} ${w.name}  ${phaseColor(w.status.phase)}  ready=${w.status.ready}`,
    `  bounds      ${formatRect(s.topology.bounds)}   grid ${s.topology.grid.cols}x${s.topology.grid.rows}`,
    `  capacity    ${s.capacity.sessions} sessions, ${s.capacity.cpuMillis}m CPU, ${s.capacity.memoryMiB} MiB per cell`,
    `  scaling     split >${s.scaling.splitSessions} for ${s.scaling.splitSustainSeconds}s, merge <${s.scaling.mergeSessions} for ${s.scaling.mergeSustainSeconds}s, cool-down ${s.scaling.cooldownSeconds}s, max ${s.scaling.maxCells} cells`,
    `  warm pool   ${s.warmPool?.size ? `${s.warmPool.size} idle ready cells kept for splits and merges` : 'none (children start cold)'}`,
    `  cells       ${w.status.cellsActive} active   routing epoch ${w.status.routingEpoch}   generation ${w.status.observedGeneration}/${w.status.generation}`,
    ...w.status.conditions.map((c) => `  condition   ${c.type}=${c.status} (${c.reason}) ${c.message}`),
    `  correlation ${w.correlationId}`,
  ];
  return lines.join('\n');
}

/** Sessions coloured against the split threshold: green below half, yellow below it, red above. */
export function cellsTable(cells: CellView[], splitSessions?: number): string {
  const t = kubectlTable({
    head: ['CELL', 'STATE', 'REGION', 'SESSIONS', 'CPU(m)', 'MEM(MiB)', 'ENDPOINT'].map((h) => color.bold(h)),
  });
  for (const c of cells) {
    const ratio = splitSessions ? c.sessions / splitSessions : 0;
    const sessions = String(c.sessions);
    t.push([
      c.id,
      phaseColor(c.state),
      formatRect(c.boundary),
      ratio >= 1 ? color.red(sessions) : ratio >= 0.5 ? color.yellow(sessions) : color.green(sessions),
      String(Math.round(c.cpuMillis)),
      String(c.memoryMiB),
      c.endpoint ?? color.dim('-'),
    ]);
  }
  return render(t);
}

export function eventsTable(events: LifecycleEvent[]): string {
  const t = kubectlTable({
    head: ['TIME', 'TYPE', 'WORLD', 'CELLS', 'REASON', 'CORRELATION', 'MESSAGE'].map((h) => color.bold(h)),
  });
  for (const e of events) {
    t.push([
      e.time.slice(11, 23),
      e.severity === 'Warning' ? color.yellow(e.type) : e.type,
      e.world ?? '',
      e.cells.join(',').slice(0, 40),
      e.reason,
      e.correlationId,
      e.message.slice(0, 60),
    ]);
  }
  return render(t);
}

/** One line per event, for `events --follow`. */
export function eventLine(e: LifecycleEvent): string {
  const type = e.severity === 'Warning' ? color.yellow(e.type) : color.cyan(e.type);
  return `${e.time} ${type} world=${e.world ?? '-'} cells=${e.cells.join(',') || '-'} reason=${e.reason} corr=${e.correlationId} ${e.message}`;
}

function age(iso: string): string {
  const s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
}

/**
 * `key=value` arguments of the `config set` commands → `{ key: value }`, numbers as
 * numbers. `key` is what `pattern`'s first group captures (its second is the value).
 */
export function parseAssignments(
  assignments: readonly string[],
  pattern: RegExp,
  example: string,
): Record<string, unknown> {
  const set: Record<string, unknown> = {};
  for (const a of assignments) {
    const m = pattern.exec(a);
    if (!m) throw new CliError(`"${a}": expected ${example}`);
    const raw = m[2]!;
    set[m[1]!] = /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
  }
  return set;
}

/** `30s`, `500ms`, `2m`, `1h` → milliseconds. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new Error(`${flag}: "${text}" is not a duration (like 500ms, 30s, 2m)`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return n * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000);
}

export function operationLine(op: OperationDoc): string {
  const took = op.completedAt
    ? ` in ${((Date.parse(op.completedAt) - Date.parse(op.createdAt)) / 1000).toFixed(2)}s`
    : '';
  const moved = op.sessionsMoved !== null ? `, ${op.sessionsMoved} sessions handed over` : '';
  return `${op.kind} ${op.id} ${phaseColor(op.state)}: ${op.sources.join('+')} → ${op.targets.map((t) => t.id).join('+')}${took}${moved}${op.error ? ` (${op.error})` : ''}`;
}

export function operationsTable(ops: OperationDoc[]): string {
  const t = kubectlTable({
    head: ['OPERATION', 'KIND', 'STATE', 'CAUSE', 'FROM', 'TO', 'MOVED', 'SECONDS', 'CORRELATION'].map((h) =>
      color.bold(h),
    ),
  });
  for (const op of ops) {
    t.push([
      op.id,
      op.kind,
      phaseColor(op.state),
      op.cause,
      op.sources.join(','),
      op.targets.map((x) => x.id).join(','),
      op.sessionsMoved === null ? '-' : String(op.sessionsMoved),
      op.completedAt ? ((Date.parse(op.completedAt) - Date.parse(op.createdAt)) / 1000).toFixed(2) : '-',
      op.correlationId,
    ]);
  }
  return render(t);
}
