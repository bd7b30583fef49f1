import { type Command, InvalidArgumentError, Option } from 'commander';
import { color } from './colors';
import { z } from 'zod';
import {
  FeatureFlagsSchema,
  FeatureSchema,
  PlacementSchema,
  TierSchema,
  TenantViewSchema,
  poolHeadroom,
  sleep,
  type TenantView,
} from '@fleetforge/shared';
import { CliError, type ApiClient } from './client';
import { emit, type OutputFormat } from './format';
import { kubectlTable, render } from './table';

const CreateResponseSchema = z.object({ created: z.boolean(), tenant: TenantViewSchema });
const ChangeResponseSchema = z.object({ tenant: TenantViewSchema, correlationId: z.string() });
const ListSchema = z.object({ items: z.array(TenantViewSchema) });

const path = (name: string, suffix = '') => `/v1/tenants/${encodeURIComponent(name)}${suffix}`;

/** Phases after which a command for the current generation is finished. */
const SETTLED = new Set(['Ready', 'Failed', 'Unavailable']);

function phase(p: string): string {
  if (p === 'Ready') return color.green(p);
  if (p === 'Failed' || p === 'Unavailable') return color.red(p);
  return color.yellow(p);
}

function ms(v: number | null | undefined): string {
  return v === null || v === undefined ? '-' : `${(v / 1000).toFixed(2)} s`;
}

/** The tenant status card (GH-032): tier, health, hosts, usage, pool, alerts, last upgrade. */
export function tenantDetail(t: TenantView): string {
  const s = t.status;
  const rows: Array<[string, string]> = [
    ['tenant', t.spec.name],
    ['tier', t.spec.tier],
    ['billing id', t.spec.billingId],
    ['phase', `${phase(s.phase)}${s.message ? ` (${s.message})` : ''}`],
    ['namespace', s.namespace ?? '-'],
    ['ready in', ms(s.readyMs)],
  ];
  if (s.vcluster)
    rows.push([
      'vcluster',
      `${s.vcluster.server} ${s.vcluster.healthy ? color.green('healthy') : color.red('unhealthy')}`,
    ]);
  const hosts = s.placements[0];
  rows.push(['hosts', hosts ? `${hosts.nodes.join(', ') || '-'} (${hosts.reason}, ${hosts.correlationId})` : '-']);
  if (s.pool) {
    const h = poolHeadroom(s.pool);
    rows.push([
      'pool',
      `${h.readyNodes}/${s.pool.nodes.length} nodes ready; cpu ${(h.cpuUtilization * 100).toFixed(0)}% (${h.cpuHeadroomMillis}m free), memory ${(h.memoryUtilization * 100).toFixed(0)}% (${Math.round(h.memoryHeadroomMiB)} MiB free)`,
    ]);
  }
  rows.push([
    'alerts',
    s.alerts.length ? color.red(s.alerts.map((a) => `${a.kind}: ${a.message}`).join('; ')) : 'none',
  ]);
  rows.push([
    'usage',
    s.usage
      ? `${s.usage.runningPods}/${s.usage.pods} pods running, cpu requests ${s.usage.cpuRequestMillis}m, memory requests ${Math.round(s.usage.memoryRequestMiB)} MiB (at ${s.usage.at})`
      : '-',
  ]);
  if (s.lastUpgrade) {
    rows.push([
      'last upgrade',
      `${s.lastUpgrade.outcome} at ${s.lastUpgrade.at}, downtime ${ms(s.lastUpgrade.downtimeMs)}, ${s.lastUpgrade.workloads} object(s) (${s.lastUpgrade.correlationId})`,
    ]);
  }
  rows.push([
    'kubeconfig',
    t.kubeconfig.available
      ? 'ready to fetch once: ffctl tenant kubeconfig ' + t.spec.name
      : t.kubeconfig.deliveredAt
        ? `delivered ${t.kubeconfig.deliveredAt} to ${t.kubeconfig.deliveredTo}`
        : '-',
  ]);
  const table = kubectlTable({
    colWidths: [14, 96],
    wordWrap: true,
  });
  for (const [k, v] of rows) table.push([color.bold(k), v]);
  return render(table);
}

function tenantsTable(items: TenantView[]): string {
  if (items.length === 0) return 'no tenants';
  const table = kubectlTable({ head: ['TENANT', 'TIER', 'PHASE', 'NAMESPACE', 'HOSTS', 'ALERTS'] });
  for (const t of items) {
    table.push([
      t.spec.name,
      t.spec.tier,
      phase(t.status.phase),
      t.status.namespace ?? '-',
      t.status.placements[0]?.nodes.join(',') ?? '-',
      String(t.status.alerts.length),
    ]);
  }
  return render(table);
}

/** The agent samples every tenant every few seconds; silence this long means it or the cluster is unreachable. */
export const STALE_AFTER_MS = 60_000;

/**
 * Why a tenant does not serve as far as the control plane can tell, or undefined:
 * not Ready, its vcluster failing its health check, or no sample from the agent
 * for STALE_AFTER_MS (the agent or the cluster is unreachable).
 */
export function unreachable(t: TenantView, now: Date): string | undefined {
  const s = t.status;
  if (s.phase === 'Failed' || s.phase === 'Unavailable') return notServing(t).message;
  if (s.vcluster && !s.vcluster.healthy) {
    return `tenant ${t.spec.name}: its vcluster at ${s.vcluster.server} failed its health check at ${s.vcluster.checkedAt}; see the node shim or vcluster pod logs`;
  }
  if (s.phase === 'Ready' && s.readyAt) {
    const last = Date.parse(s.usage?.at ?? s.readyAt);
    if (now.getTime() - last > STALE_AFTER_MS) {
      return `tenant ${t.spec.name}: no observation from the agent since ${new Date(last).toISOString()}; the agent or the Kubernetes cluster is unreachable (check the agent log; \`npm run kube:up\` starts the local tier)`;
    }
  }
  return undefined;
}

/** Why a settled tenant is not serving, and what to do about it. */
function notServing(t: TenantView): CliError {
  const hint =
    t.status.phase === 'Unavailable' ? '' : `; see \`ffctl events --tenant ${t.spec.name}\` and the agent log`;
  return new CliError(`tenant ${t.spec.name} is ${t.status.phase}: ${t.status.message}${hint}`);
}

async function waitSettled(c: ApiClient, name: string, generation: number, timeoutMs: number): Promise<TenantView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const t = await c.request('GET', path(name), TenantViewSchema);
    if (t.status.observedGeneration >= generation && SETTLED.has(t.status.phase)) return t;
    if (Date.now() > deadline) {
      throw new CliError(
        `tenant ${name} still ${t.status.phase} after ${timeoutMs / 1000}s (${t.status.message}); is the agent running?`,
      );
    }
    await sleep(250);
  }
}

function positive(flag: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 16)
      throw new InvalidArgumentError(`${flag} must be an integer from 1 to 16`);
    return n;
  };
}

/** `ffctl tenant …` (GH-026..GH-033). */
export function registerTenantCommands(
  program: Command,
  client: () => ApiClient,
  format: () => OutputFormat,
  io: { out: (t: string) => void },
  duration: (flag: string) => (v: string) => number,
): void {
  const tenant = program
    .command('tenant')
    .description('Tenants: dev namespace, standard vcluster, dedicated host pool');

  tenant
    .command('create <name>')
    .description('Create a tenant and wait until it serves')
    .addOption(
      new Option('--tier <tier>', 'dev | standard | dedicated').choices(TierSchema.options).makeOptionMandatory(),
    )
    .option('--admin <who>', 'who receives the kubeconfig and alerts')
    .option('--billing-id <id>', 'billing identifier (labels and exports)')
    .option('--pool-nodes <n>', 'dedicated: nodes to reserve', positive('--pool-nodes'))
    .option('--no-wait', 'return once the request is accepted')
    .option('--timeout <duration>', 'how long to wait', duration('--timeout'), 150_000)
    .action(
      async (
        name: string,
        o: { tier: string; admin?: string; billingId?: string; poolNodes?: number; wait: boolean; timeout: number },
      ) => {
        const c = client();
        const r = await c.request('POST', '/v1/tenants', CreateResponseSchema, {
          name,
          tier: o.tier,
          ...(o.admin ? { admin: o.admin } : {}),
          ...(o.billingId ? { billingId: o.billingId } : {}),
          ...(o.poolNodes ? { poolNodes: o.poolNodes } : {}),
        });
        if (!o.wait) {
          io.out(
            emit(
              format(),
              r.tenant,
              () => `tenant/${name} ${r.created ? 'requested' : 'exists'} (${r.tenant.spec.tier})`,
            ),
          );
          return;
        }
        const t = await waitSettled(c, name, r.tenant.generation, o.timeout);
        if (t.status.phase !== 'Ready') throw notServing(t);
        io.out(
          emit(format(), t, () =>
            [
              `tenant/${name} ready: ${t.spec.tier} tier, namespace ${t.status.namespace ?? '-'}, ready in ${ms(t.status.readyMs)}`,
              ...(t.kubeconfig.available
                ? [`kubeconfig: ffctl tenant kubeconfig ${name} > ${name}.kubeconfig (once)`]
                : []),
            ].join('\n'),
          ),
        );
      },
    );

  tenant
    .command('status <name>')
    .description('Tier, health, hosts, usage, pool and alerts; exits 1 when the tenant does not serve')
    .action(async (name: string) => {
      const t = await client().request('GET', path(name), TenantViewSchema);
      io.out(emit(format(), t, () => tenantDetail(t)));
      const why = unreachable(t, new Date());
      if (why) throw new CliError(why);
    });

  tenant
    .command('list')
    .description('List tenants')
    .action(async () => {
      const r = await client().request('GET', '/v1/tenants', ListSchema);
      io.out(emit(format(), r.items, () => tenantsTable(r.items)));
    });

  tenant
    .command('upgrade <name>')
    .description('Move a dev tenant into its own vcluster (standard tier), measuring downtime')
    .addOption(new Option('--to <tier>', 'target tier').choices(['standard']).makeOptionMandatory())
    .addOption(
      new Option('--fail-at <step>', 'test switch: fail at this step')
        .choices(['provision', 'reapply', 'validate'])
        .hideHelp(),
    )
    .option('--timeout <duration>', 'how long to wait', duration('--timeout'), 300_000)
    .action(async (name: string, o: { to: string; failAt?: string; timeout: number }) => {
      const c = client();
      const r = await c.request('POST', path(name, ':upgrade'), ChangeResponseSchema, {
        to: o.to,
        ...(o.failAt ? { failAt: o.failAt } : {}),
      });
      const deadline = Date.now() + o.timeout;
      for (;;) {
        const t = await c.request('GET', path(name), TenantViewSchema);
        const u = t.status.lastUpgrade;
        if (u && u.correlationId === r.correlationId) {
          io.out(
            emit(format(), t, () =>
              u.outcome === 'Completed'
                ? `tenant/${name} upgraded to ${t.spec.tier}: downtime ${ms(u.downtimeMs)}, ${u.workloads} object(s) moved (correlation ${u.correlationId})`
                : `tenant/${name} upgrade failed: ${u.message}`,
            ),
          );
          if (u.outcome !== 'Completed')
            throw new CliError(
              `upgrade of ${name} failed (correlation ${u.correlationId}); the dev namespace still serves`,
            );
          return;
        }
        if (t.status.observedGeneration >= t.generation && t.status.phase !== 'Ready') throw notServing(t);
        if (Date.now() > deadline)
          throw new CliError(`upgrade of ${name} not finished after ${o.timeout / 1000}s (${t.status.message})`);
        await sleep(250);
      }
    });

  tenant
    .command('delete <name>')
    .description('Decommission a tenant')
    .option('--wait', 'wait until it is gone')
    .option('--timeout <duration>', 'how long --wait waits', duration('--timeout'), 150_000)
    .action(async (name: string, o: { wait?: boolean; timeout: number }) => {
      const c = client();
      const r = await c.request('DELETE', path(name), ChangeResponseSchema);
      if (o.wait) {
        const deadline = Date.now() + o.timeout;
        for (;;) {
          const t = await c.request('GET', path(name), TenantViewSchema).catch((err: unknown) => {
            if (err instanceof CliError && err.message.startsWith('NOT_FOUND')) return undefined;
            throw err;
          });
          if (!t) break;
          if (
            t.status.observedGeneration >= t.generation &&
            (t.status.phase === 'Failed' || t.status.phase === 'Unavailable')
          ) {
            throw notServing(t);
          }
          if (Date.now() > deadline)
            throw new CliError(`tenant ${name} still ${t.status.phase} after ${o.timeout / 1000}s`);
          await sleep(250);
        }
      }
      io.out(emit(format(), r, () => `tenant/${name} ${o.wait ? 'deleted' : 'deleting'}`));
    });

  tenant
    .command('kubeconfig <name>')
    .description("Print the standard tier's vcluster kubeconfig (handed out once)")
    .action(async (name: string) => {
      const r = await client().request('GET', path(name, '/kubeconfig'), z.object({ kubeconfig: z.string() }));
      io.out(format() === 'table' ? r.kubeconfig : emit(format(), r, () => ''));
    });

  tenant
    .command('placements <name>')
    .description('Placement history with correlation ids (standard and dedicated tiers)')
    .action(async (name: string) => {
      const r = await client().request('GET', path(name, '/placements'), z.object({ items: z.array(PlacementSchema) }));
      io.out(
        emit(format(), r.items, () =>
          r.items.length === 0
            ? 'no placements'
            : r.items
                .map((p) => `${p.at}  ${p.nodes.join(',')}  ${p.namespace}  ${p.reason}  ${p.correlationId}`)
                .join('\n'),
        ),
      );
    });

  tenant
    .command('features')
    .description('Feature flags by tier; --set tier.feature=true|false changes one live')
    .option('--set <assignment>', 'e.g. dev.placementHistory=true')
    .action(async (o: { set?: string }) => {
      const c = client();
      if (o.set) {
        const m = /^(\w+)\.(\w+)=(true|false)$/.exec(o.set);
        const tier = TierSchema.safeParse(m?.[1]);
        const feature = FeatureSchema.safeParse(m?.[2]);
        if (!m || !tier.success || !feature.success) {
          throw new CliError(
            `--set must be TIER.FEATURE=true|false with TIER one of ${TierSchema.options.join(', ')} and FEATURE one of ${FeatureSchema.options.join(', ')}`,
          );
        }
        await c.request('PATCH', '/v1/config/features', FeatureFlagsSchema, {
          tier: tier.data,
          feature: feature.data,
          enabled: m[3] === 'true',
        });
      }
      const flags = await c.request('GET', '/v1/config/features', FeatureFlagsSchema);
      io.out(
        emit(format(), flags, () => {
          const table = kubectlTable({ head: ['FEATURE', ...TierSchema.options] });
          for (const f of FeatureSchema.options) {
            table.push([
              f,
              ...TierSchema.options.map((t) => (flags.tiers[t]?.[f] ? color.green('on') : color.dim('off'))),
            ]);
          }
          return render(table);
        }),
      );
    });
}
