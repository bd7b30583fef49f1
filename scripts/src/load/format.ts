import pc from 'picocolors';
import { summaryOk, type LoadSummary } from './generator';
import { kubectlTable, render } from '../ffctl/table';

function ms(v: number): string {
  return `${Math.round(v)}ms`;
}

/** The outcome of a load run: one compact table of per-cell counts, then the counters. */
export function formatSummary(s: LoadSummary): string {
  const ok = summaryOk(s);
  const t = kubectlTable({
    head: ['CELL', 'SESSIONS'].map((h) => pc.bold(h)),
  });
  const cells = Object.entries(s.perCell).sort(([a], [b]) => a.localeCompare(b));
  for (const [cell, n] of cells) t.push([cell, String(n)]);
  if (cells.length === 0) t.push([pc.dim('(none)'), '0']);

  const reroutes = Object.entries(s.reroutes)
    .filter(([, n]) => n > 0)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([reason, n]) => `${reason}=${n}`)
    .join(' ');
  const dist = (d: LoadSummary['disconnectMs']) =>
    d.count === 0 ? '-' : `n=${d.count} p50 ${ms(d.p50)} p95 ${ms(d.p95)} max ${ms(d.max)}`;
  const bad = (v: number, good: boolean) => (good ? String(v) : pc.red(String(v)));
  t.push(
    [{ colSpan: 2, content: '' }],
    [pc.bold('present'), `${bad(s.present, s.present === s.target)}/${s.target}`],
    ['duplicates', bad(s.duplicates, s.duplicates === 0)],
    ['missing', bad(s.missing, s.missing === 0)],
    ['joined / left', `${s.joined} / ${s.left}`],
    ['moved (handovers)', `${s.moved} (${s.handovers})`],
    ['reroutes', reroutes === '' ? '0' : reroutes],
    ['rejoined after loss', String(s.rejoinedAfterLoss)],
    ['failures', bad(s.failures, s.failures === 0)],
    ['disconnect', dist(s.disconnectMs)],
    ['requests (not re-routed)', dist(s.requestMs)],
    ['elapsed', ms(s.elapsedMs)],
    [pc.bold('result'), ok ? pc.green('OK') : pc.red('NOT OK')],
  );
  return render(t);
}
