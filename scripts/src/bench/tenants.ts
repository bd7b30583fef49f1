/**
 * `npm run bench:tenants`: on a private Kubernetes tier and a private stack on
 * the Kubernetes driver, through the API as ffctl drives it: dev namespace
 * ready time (PRD ≤ 60 s), standard vcluster ready time (≤ 90 s), and the
 * dev → standard upgrade: its downtime (PRD ≤ 5 min, aim < 30 s) and its total
 * time. Writes JSON with p50/p95 and the machine to bench-results/tenants.json.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AppsV1Api, KubeConfig } from '@kubernetes/client-node';
import { createLogger } from '@fleetforge/functions/adapters';
import { TenantViewSchema, sleep, tenantNamespace, type TenantView } from '@fleetforge/shared';
import { startPrivateKube } from '../stack/kube';
import { startPrivateStack } from '../stack/stack';
import { machine, summarize } from './machine';

const ROOT = resolve(__dirname, '..', '..', '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

async function main(): Promise<void> {
  const kube = await startPrivateKube(ROOT);
  const stack = await startPrivateStack({
    stateDir: mkdtempSync(join(tmpdir(), 'ff-bench-')),
    project: 'ff-bench',
    root: ROOT,
    log: createLogger('bench', 'warn'),
    driver: 'kubernetes',
    kubeDir: kube.state.dir,
  }).catch(async (err: unknown) => {
    await kube.stop();
    throw err;
  });
  const kc = new KubeConfig();
  kc.loadFromFile(kube.state.kubeconfig);
  const apps = kc.makeApiClient(AppsV1Api);
  const api = stack.file.api;
  const headers = { authorization: `Bearer ${stack.token}`, 'content-type': 'application/json' };
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${api}${path}`, { method, headers, body: body ? JSON.stringify(body) : undefined });
    const json = await res.json();
    if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const get = async (name: string): Promise<TenantView> =>
    TenantViewSchema.parse(await call('GET', `/v1/tenants/${name}`));
  const until = async (name: string, ok: (t: TenantView) => boolean, timeoutMs: number) => {
    const t0 = performance.now();
    for (;;) {
      const t = await get(name);
      if (ok(t)) return t;
      if (t.status.phase === 'Failed' || t.status.phase === 'Unavailable')
        throw new Error(`${name}: ${t.status.message}`);
      if (performance.now() - t0 > timeoutMs)
        throw new Error(`${name}: not done in ${timeoutMs} ms (${t.status.phase})`);
      await sleep(50);
    }
  };
  const createReady = async (name: string, tier: 'dev' | 'standard') => {
    const t0 = performance.now();
    await call('POST', '/v1/tenants', { name, tier });
    const t = await until(
      name,
      (x) => x.status.phase === 'Ready' && x.status.observedGeneration >= x.generation,
      120_000,
    );
    return { ms: performance.now() - t0, agentMs: t.status.readyMs ?? NaN };
  };
  const dev: number[] = [];
  const devAgent: number[] = [];
  const std: number[] = [];
  const stdAgent: number[] = [];
  const downtime: number[] = [];
  const upgradeTotal: number[] = [];
  try {
    for (let run = 0; run < RUNS; run++) {
      const d = await createReady(`bench-dev-${run}`, 'dev');
      dev.push(d.ms);
      devAgent.push(d.agentMs);
      const s = await createReady(`bench-std-${run}`, 'standard');
      std.push(s.ms);
      stdAgent.push(s.agentMs);
      // A dev tenant with a running workload, upgraded.
      const name = `bench-up-${run}`;
      await createReady(name, 'dev');
      await apps.createNamespacedDeployment({
        namespace: tenantNamespace(name),
        body: {
          metadata: { name: 'web' },
          spec: {
            replicas: 2,
            selector: { matchLabels: { app: 'web' } },
            template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx' }] } },
          },
        },
      });
      for (;;) {
        const dep = await apps.readNamespacedDeployment({ name: 'web', namespace: tenantNamespace(name) });
        if ((dep.status?.availableReplicas ?? 0) >= 2) break;
        await sleep(100);
      }
      const t0 = performance.now();
      const r = (await call('POST', `/v1/tenants/${name}:upgrade`, { to: 'standard' })) as { correlationId: string };
      const done = await until(name, (x) => x.status.lastUpgrade?.correlationId === r.correlationId, 300_000);
      if (done.status.lastUpgrade?.outcome !== 'Completed')
        throw new Error(`${name}: ${done.status.lastUpgrade?.message}`);
      upgradeTotal.push(performance.now() - t0);
      downtime.push(done.status.lastUpgrade.downtimeMs ?? NaN);
      process.stderr.write(
        `run ${run}: dev ${Math.round(dev.at(-1)!)} ms, standard ${Math.round(std.at(-1)!)} ms, upgrade ${Math.round(upgradeTotal.at(-1)!)} ms (downtime ${downtime.at(-1)} ms)\n`,
      );
    }
  } finally {
    await stack.stop();
    await kube.stop();
  }
  const out = {
    benchmark: 'tenants',
    description:
      'Through the API on a private Kubernetes tier (real kube-apiserver, scheduler, controllers; node shim): POST /v1/tenants until GET shows Ready; agentMs is the agent-measured command-to-ready; the upgrade moves a 2-replica Deployment, a make-before-break copy, downtime = longest span with no ready replica of a workload in either place, sampled every 100 ms',
    target: {
      devReady: 'PRD <= 60000 ms',
      standardReady: 'PRD <= 90000 ms',
      upgradeDowntime: 'PRD <= 300000 ms, aim < 30000 ms',
    },
    at: new Date().toISOString(),
    machine: machine(),
    results: {
      devReady: summarize(dev),
      devReadyAgent: summarize(devAgent),
      standardReady: summarize(std),
      standardReadyAgent: summarize(stdAgent),
      upgradeDowntime: summarize(downtime),
      upgradeTotal: summarize(upgradeTotal),
    },
  };
  mkdirSync(join(ROOT, 'bench-results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench-results', 'tenants.json'), `${JSON.stringify(out, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).message}\n`);
  process.exit(1);
});
