/**
 * The Prometheus side of observability: the alert rules pass `promtool test rules`,
 * every /metrics output passes `promtool check metrics`, and the Grafana dashboard
 * queries only metrics of the catalogue. promtool comes from Debian's `prometheus`
 * package (.ci/run installs it); without it these tests fail, they do not skip.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { METRICS, type MetricDef, type MetricName } from '@fleetforge/shared';
import { PromMetricsSink } from '@fleetforge/functions';
import { repoRoot } from '../gen/documents';

const promDir = join(repoRoot, 'docs', 'prometheus');

function promtool(args: string[], input?: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { cwd: promDir, input, encoding: 'utf8' });
  if (r.error) throw new Error(`promtool is needed (apt-get install prometheus): ${r.error.message}`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** A sink with every catalogue metric given a value, as a busy process would have. */
async function catalogueMetricsText(): Promise<string> {
  const sink = new PromMetricsSink(undefined, { defaultMetrics: true });
  for (const [name, def] of Object.entries(METRICS) as Array<[MetricName, MetricDef]>) {
    const labels = Object.fromEntries(def.labels.map((l) => [l, 'x']));
    if (def.type === 'counter') sink.inc(name, labels);
    else if (def.type === 'gauge') sink.set(name, 1, labels);
    else sink.observe(name, 0.3, labels);
  }
  return sink.text();
}

describe('Prometheus', () => {
  it('promtool is installed', () => {
    expect(execFileSync('promtool', ['--version'], { encoding: 'utf8' })).toMatch(/promtool, version/);
  });

  it('alert rules are valid and pass their unit tests', () => {
    const check = promtool(['check', 'rules', 'alerts.yml']);
    expect(check).toEqual({ status: 0, output: expect.stringContaining('SUCCESS') as string });
    const test = promtool(['test', 'rules', 'alerts.test.yml']);
    expect(test).toEqual({ status: 0, output: expect.stringContaining('SUCCESS') as string });
  });

  it('/metrics output, with every catalogue metric and the process metrics, passes promtool check metrics', async () => {
    const text = await catalogueMetricsText();
    for (const name of Object.keys(METRICS)) expect(text).toContain(`# TYPE ${name} `);
    expect(promtool(['check', 'metrics'], text)).toEqual({ status: 0, output: '' });
  });

  it('promtool check metrics does catch a bad exposition (so a pass means something)', () => {
    const bad = '# HELP bad_total x\n# TYPE bad_total gauge\nbad_total 1\n';
    expect(promtool(['check', 'metrics'], bad).status).not.toBe(0);
  });

  it('every runbook an alert links to exists, down to the heading', () => {
    const links = [...readFileSync(join(promDir, 'alerts.yml'), 'utf8').matchAll(/runbook: '([^'#]+)(?:#([^']+))?'/g)];
    expect(links.length).toBeGreaterThan(3);
    for (const [, file, anchor] of links) {
      const text = readFileSync(join(repoRoot, file!), 'utf8');
      if (!anchor) continue;
      // GitHub's heading anchors: lower case, punctuation dropped, spaces as dashes.
      const anchors = [...text.matchAll(/^#+ (.+)$/gm)].map((m) =>
        m[1]!
          .toLowerCase()
          .replace(/[^a-z0-9 -]/g, '')
          .replace(/ /g, '-'),
      );
      expect(anchors).toContain(anchor);
    }
  });

  it('alert rules name only catalogue metrics', () => {
    const named = metricNames(readFileSync(join(promDir, 'alerts.yml'), 'utf8'));
    expect(named.length).toBeGreaterThan(3);
    expect(named.filter((n) => !(n in METRICS))).toEqual([]);
  });
});

/** The catalogue names a query uses; histogram series carry _bucket, _sum and _count. */
function metricNames(query: string): string[] {
  return [...query.matchAll(/\bfleetforge_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ''));
}

describe('Grafana dashboard (docs/grafana/fleetforge.json)', () => {
  interface Panel {
    title: string;
    targets?: Array<{ expr: string }>;
  }
  const dashboard = JSON.parse(readFileSync(join(repoRoot, 'docs', 'grafana', 'fleetforge.json'), 'utf8')) as {
    panels: Panel[];
    templating: { list: Array<{ name: string; definition?: string }> };
  };
  const queries = [
    ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: p.title, expr: t.expr }))),
    ...dashboard.templating.list.filter((v) => v.definition).map((v) => ({ where: `$${v.name}`, expr: v.definition! })),
  ];

  it('has panels with queries', () => {
    expect(dashboard.panels.length).toBeGreaterThan(5);
    expect(dashboard.panels.filter((p) => (p.targets ?? []).length === 0)).toEqual([]);
  });

  it('every query names at least one metric, and only metrics of the catalogue', () => {
    for (const q of queries) {
      const named = metricNames(q.expr);
      expect({ ...q, named: named.length > 0 }).toEqual({ ...q, named: true });
      expect({ ...q, unknown: named.filter((n) => !(n in METRICS)) }).toEqual({ ...q, unknown: [] });
    }
  });

  it('asks histograms for buckets and other metrics by their own name', () => {
    for (const q of queries) {
      for (const m of q.expr.matchAll(/\bfleetforge_[a-z0-9_]+/g)) {
        const base = m[0].replace(/_(bucket|sum|count)$/, '');
        const def = METRICS[base as MetricName] as MetricDef | undefined;
        if (def && def.type !== 'histogram') expect({ ...q, name: m[0] }).toEqual({ ...q, name: base });
      }
    }
  });
});
