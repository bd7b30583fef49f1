import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { color, colorEnabled, useColors } from './colors';
import { startDashboard } from '../dashboard/server';
import { z } from 'zod';
import {
  ApplyResultSchema,
  CellListSchema,
  DeleteResultSchema,
  EventListSchema,
  WorldListSchema,
  WorldViewSchema,
  OperationDocSchema,
  RoutingTableSchema,
  formatRect,
  sleep,
  type OperationDoc,
  type LifecycleEvent,
  type WorldView,
} from '@fleetforge/shared';
import { formatSummary } from '../load/format';
import { runLoad, summaryOk, type Hotspot } from '../load/generator';
import { ApiClient, CliError, resolveEndpoint } from './client';
import { registerBillingCommands } from './billing';
import { registerTenantCommands } from './tenant';
import { registerTokenCommands } from './token';
import {
  cellsTable,
  emit,
  eventLine,
  eventsTable,
  operationLine,
  operationsTable,
  parseAssignments,
  parseDuration,
  worldDetail,
  worldsTable,
  type OutputFormat,
} from './format';

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Whether `out` is a terminal: only then is output coloured (unless NO_COLOR/FORCE_COLOR say otherwise). */
  isTTY?: boolean;
}

function duration(flag: string) {
  return (value: string): number => {
    try {
      return parseDuration(value, flag);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  };
}

/** Builds the ffctl program; `run` parses argv and returns the exit code. */
export function buildProgram(io: Io): Command {
  const program = new Command('ffctl')
    .description('Operate FleetForge: worlds, cells, events, tenants.')
    .option('--api <url>', 'API base URL (default: FLEETFORGE_API, else the local stack)')
    .option('--token <token>', 'bearer token (default: FLEETFORGE_TOKEN, else the local stack admin token)')
    .addOption(
      new Option('-o, --output <format>', 'output format').choices(['table', 'json', 'yaml', 'csv']).default('table'),
    )
    .showHelpAfterError()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride();

  const client = () => new ApiClient(resolveEndpoint(program.opts<{ api?: string; token?: string }>(), io.env, io.cwd));
  const format = () => program.opts<{ output: OutputFormat }>().output;

  const world = program.command('world').description('Apply, inspect and delete worlds');

  world
    .command('apply')
    .description('Create or update a world from a manifest (YAML or JSON)')
    .requiredOption('-f, --file <path>', 'manifest file, or - for stdin')
    .action(async (o: { file: string }) => {
      let text: string;
      try {
        text = readFileSync(o.file === '-' ? 0 : o.file, 'utf8');
      } catch (err) {
        throw new CliError(
          `--file: cannot read ${o.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        );
      }
      const r = await client().request('POST', '/v1/worlds', ApplyResultSchema, {
        text,
        contentType: 'application/yaml',
      });
      io.out(emit(format(), r, () => `world/${r.world.name} ${r.result} (generation ${r.world.status.generation})`));
    });

  world
    .command('get <name>')
    .description('Show one world')
    .action(async (name: string) => {
      const w = await client().request('GET', `/v1/worlds/${encodeURIComponent(name)}`, WorldViewSchema);
      io.out(emit(format(), w, () => worldDetail(w)));
    });

  world
    .command('list')
    .description('List worlds')
    .action(async () => {
      const r = await client().request('GET', '/v1/worlds', WorldListSchema);
      io.out(emit(format(), r.items, () => (r.items.length === 0 ? 'no worlds' : worldsTable(r.items))));
    });

  world
    .command('delete <name>')
    .description('Delete a world: its cells are stopped, then it is removed')
    .option('--wait', 'wait until it is gone')
    .option('--timeout <duration>', 'how long --wait waits', duration('--timeout'), 60_000)
    .action(async (name: string, o: { wait?: boolean; timeout: number }) => {
      const c = client();
      const r = await c.request('DELETE', `/v1/worlds/${encodeURIComponent(name)}`, DeleteResultSchema);
      if (o.wait) {
        const deadline = Date.now() + o.timeout;
        for (;;) {
          try {
            await c.request('GET', `/v1/worlds/${encodeURIComponent(name)}`, z.unknown());
          } catch (err) {
            if (err instanceof CliError && err.message.startsWith('NOT_FOUND')) break;
            throw err;
          }
          if (Date.now() > deadline) throw new CliError(`world ${name} still exists after ${o.timeout} ms`);
          await sleep(250);
        }
      }
      io.out(emit(format(), r, () => `world/${name} ${o.wait ? 'deleted' : 'deleting'}`));
    });

  world
    .command('wait <name>')
    .description('Wait until a world is ready')
    .option('--ready', 'wait for status.ready (the default condition)', true)
    .option('--timeout <duration>', 'give up after this long', duration('--timeout'), 30_000)
    .action(async (name: string, o: { timeout: number }) => {
      const c = client();
      const started = Date.now();
      for (;;) {
        let last: WorldView | undefined;
        try {
          last = await c.request('GET', `/v1/worlds/${encodeURIComponent(name)}`, WorldViewSchema);
        } catch (err) {
          if (!(err instanceof CliError && err.message.startsWith('NOT_FOUND'))) throw err;
        }
        if (last?.status.ready) {
          const secs = ((Date.now() - started) / 1000).toFixed(2);
          io.out(emit(format(), last, () => `world/${name} ready: ${last.status.cellsActive} cells (waited ${secs}s)`));
          return;
        }
        if (Date.now() - started > o.timeout) {
          const phase = last ? `${last.status.phase}, ${last.status.conditions[0]?.message ?? ''}` : 'not found';
          throw new CliError(
            `world ${name} not ready after ${o.timeout / 1000}s (${phase}); see \`ffctl events --world ${name}\``,
          );
        }
        await sleep(200);
      }
    });

  program
    .command('cells <world>')
    .description('List the cells of a world')
    .option('-w, --watch', 'refresh every second until Ctrl-C')
    .action(async (name: string, o: { watch?: boolean }) => {
      const c = client();
      const show = async () => {
        const [w, r] = await Promise.all([
          c.request('GET', `/v1/worlds/${encodeURIComponent(name)}`, WorldViewSchema),
          c.request('GET', `/v1/worlds/${encodeURIComponent(name)}/cells`, CellListSchema),
        ]);
        const live = r.items.filter((x) => x.state !== 'Terminated');
        return emit(format(), live, () => cellsTable(live, w.spec.scaling.splitSessions));
      };
      if (!o.watch) return io.out(await show());
      for (;;) {
        io.out(`\x1b[2J\x1b[H${color.dim(new Date().toISOString())}\n${await show()}`);
        await sleep(1000);
      }
    });

  program
    .command('events')
    .description('Lifecycle events, oldest first')
    .option('--world <name>', 'only this world')
    .option('--tenant <name>', 'only this tenant')
    .option('--type <type>', 'only this event type (CellSplit, WorldInitialized, …)')
    .option('--correlation <id>', 'only this correlation id: the whole chain of one operation')
    .option('--since <duration|time>', 'only newer than this (e.g. 10m, or an ISO time)')
    .option('--limit <n>', 'at most this many', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 1000)
        throw new InvalidArgumentError('--limit must be an integer from 1 to 1000');
      return n;
    })
    .option('-f, --follow', 'keep printing new events until Ctrl-C')
    .action(
      async (o: {
        world?: string;
        tenant?: string;
        type?: string;
        correlation?: string;
        since?: string;
        limit?: number;
        follow?: boolean;
      }) => {
        const c = client();
        let since: string | undefined;
        if (o.since) {
          since = /^\d{4}-/.test(o.since)
            ? o.since
            : new Date(Date.now() - parseDuration(o.since, '--since')).toISOString();
        }
        const fetchEvents = async (after?: string): Promise<LifecycleEvent[]> => {
          const q = new URLSearchParams();
          if (o.world) q.set('world', o.world);
          if (o.tenant) q.set('tenant', o.tenant);
          if (o.type) q.set('type', o.type);
          if (o.correlation) q.set('correlation', o.correlation);
          if (after) q.set('since', after);
          if (o.limit) q.set('limit', String(o.limit));
          return (await c.request('GET', `/v1/events?${q.toString()}`, EventListSchema)).items;
        };
        const first = await fetchEvents(since);
        if (!o.follow) {
          io.out(emit(format(), first, () => (first.length === 0 ? 'no events' : eventsTable(first))));
          return;
        }
        let cursor = since;
        const print = (events: LifecycleEvent[]) => {
          for (const e of events) {
            io.out(format() === 'table' ? `${eventLine(e)}\n` : `${JSON.stringify(e)}\n`);
            cursor = e.time;
          }
        };
        print(first);
        for (;;) {
          await sleep(1000);
          print(await fetchEvents(cursor));
        }
      },
    );

  program
    .command('load <world>')
    .description('Hold N real sessions in the cells of a world, routed by position; deterministic for a seed')
    .requiredOption(
      '--sessions <n>',
      'how many sessions the world should hold at the end (0 removes them)',
      integer('--sessions', 0, 100_000),
    )
    .option('--hotspot <x,y,r>', 'crowd sessions around a point (normal, sigma r/2)', parseHotspot)
    .option('--ramp <duration>', 'reach the target linearly over this long', duration('--ramp'), 0)
    .option('--seed <n>', 'seed for positions and moves', integer('--seed', 0, 2 ** 31), 1)
    .option('--move-fraction <f>', 'share of sessions that move each tick', fraction, 0.05)
    .action(
      async (
        world: string,
        o: { sessions: number; hotspot?: Hotspot; ramp: number; seed: number; moveFraction: number },
      ) => {
        const c = client();
        const summary = await runLoad(
          {
            world,
            sessions: o.sessions,
            rampMs: o.ramp,
            seed: o.seed,
            moveFraction: o.moveFraction,
            ...(o.hotspot ? { hotspot: o.hotspot } : {}),
          },
          { routing: () => c.request('GET', `/v1/worlds/${encodeURIComponent(world)}/routing`, RoutingTableSchema) },
        );
        io.out(emit(format(), summary, () => formatSummary(summary)));
        if (!summaryOk(summary)) {
          throw new CliError(
            `world ${world} holds ${summary.present} of ${summary.target} sessions (${summary.duplicates} duplicated, ${summary.failures} failures)`,
          );
        }
      },
    );

  const cell = program.command('cell').description('Manual overrides (operator role)');
  cell
    .command('split <world> <cell>')
    .description('Split a cell now (reason ManualOverride)')
    .option('--reason <text>', 'why (goes into the event and the audit log)', 'manual split')
    .option('--test-never-ready', 'test switch: the children never become ready, so the split rolls back')
    .option('--wait', 'wait until the operation completes or rolls back')
    .option('--timeout <duration>', 'how long --wait waits', duration('--timeout'), 60_000)
    .action(
      async (
        world: string,
        id: string,
        o: { reason: string; testNeverReady?: boolean; wait?: boolean; timeout: number },
      ) => {
        const c = client();
        const r = await c.request(
          'POST',
          `/v1/worlds/${encodeURIComponent(world)}/cells/${encodeURIComponent(id)}:split`,
          OperationResponseSchema,
          {
            reason: o.reason,
            ...(o.testNeverReady ? { testChildrenNeverReady: true } : {}),
          },
        );
        const op = o.wait ? await waitOperation(c, world, r.operation.id, o.timeout) : r.operation;
        io.out(emit(format(), op, () => operationLine(op)));
        if (o.wait && op.state !== 'Completed')
          throw new CliError(`operation ${op.id} ended ${op.state}: ${op.error ?? ''}`);
      },
    );
  cell
    .command('merge <world> <cells...>')
    .description('Merge sibling cells back into their parent (reason ManualOverride)')
    .option('--reason <text>', 'why', 'manual merge')
    .option('--wait', 'wait until the operation completes or rolls back')
    .option('--timeout <duration>', 'how long --wait waits', duration('--timeout'), 60_000)
    .action(async (world: string, cells: string[], o: { reason: string; wait?: boolean; timeout: number }) => {
      const c = client();
      const r = await c.request(
        'POST',
        `/v1/worlds/${encodeURIComponent(world)}/cells:merge`,
        OperationResponseSchema,
        {
          cells,
          reason: o.reason,
        },
      );
      const op = o.wait ? await waitOperation(c, world, r.operation.id, o.timeout) : r.operation;
      io.out(emit(format(), op, () => operationLine(op)));
      if (o.wait && op.state !== 'Completed')
        throw new CliError(`operation ${op.id} ended ${op.state}: ${op.error ?? ''}`);
    });

  program
    .command('ops <world>')
    .description('Split and merge operations of a world, newest first')
    .action(async (world: string) => {
      const r = await client().request(
        'GET',
        `/v1/worlds/${encodeURIComponent(world)}/operations`,
        OperationListSchema,
      );
      io.out(emit(format(), r.items, () => (r.items.length === 0 ? 'no operations' : operationsTable(r.items))));
    });

  program
    .command('routing <world>')
    .description('The routing table: which cell owns which region, at which epoch')
    .action(async (world: string) => {
      const r = await client().request('GET', `/v1/worlds/${encodeURIComponent(world)}/routing`, RoutingTableSchema);
      io.out(
        emit(
          format(),
          r,
          () =>
            `epoch ${r.epoch}\n${r.cells.map((x) => `  ${x.id.padEnd(14)} ${formatRect(x.boundary).padEnd(20)} ${x.endpoint}`).join('\n')}`,
        ),
      );
    });

  const config = program.command('config').description('Live scaling configuration (no restart)');
  config
    .command('get')
    .description('Show the live overrides and the defaults')
    .action(async () => {
      const r = await client().request('GET', '/v1/config/scaling', ConfigViewSchema);
      io.out(
        emit(format(), r, () =>
          [
            `version ${r.version}${r.updatedBy ? ` (by ${r.updatedBy} at ${r.updatedAt})` : ''}`,
            ...Object.entries(r.overrides).map(([k, v]) => `  scaling.${k}=${JSON.stringify(v)}`),
            ...(Object.keys(r.overrides).length === 0 ? ['  (no overrides: every world uses its spec)'] : []),
          ].join('\n'),
        ),
      );
    });
  config
    .command('set <assignments...>')
    .description('Set keys: ffctl config set scaling.splitSessions=600 scaling.cooldownSeconds=10')
    .action(async (assignments: string[]) => {
      const set = parseAssignments(
        assignments,
        /^scaling\.([A-Za-z]+)=(.+)$/,
        'scaling.<key>=<value>, e.g. scaling.splitSessions=600',
      );
      const r = await client().request('PATCH', '/v1/config/scaling', ConfigPatchResultSchema, { set });
      io.out(
        emit(format(), r, () =>
          r.changedKeys.length ? `changed ${r.changedKeys.join(', ')} (version ${r.version})` : 'no change',
        ),
      );
    });
  config
    .command('unset <keys...>')
    .description('Drop overrides: ffctl config unset scaling.splitSessions')
    .action(async (keys: string[]) => {
      const unset = keys.map((k) => {
        const m = /^scaling\.([A-Za-z]+)$/.exec(k);
        if (!m) throw new CliError(`"${k}": expected scaling.<key>`);
        return m[1]!;
      });
      const r = await client().request('PATCH', '/v1/config/scaling', ConfigPatchResultSchema, { unset });
      io.out(
        emit(format(), r, () =>
          r.changedKeys.length ? `unset ${r.changedKeys.join(', ')} (version ${r.version})` : 'no change',
        ),
      );
    });

  registerTokenCommands(program, client, format, io);

  program
    .command('whoami')
    .description('Which principal the token is')
    .action(async () => {
      const r = await client().request(
        'GET',
        '/v1/whoami',
        z.object({ name: z.string(), role: z.string(), tenant: z.string().nullable() }),
      );
      io.out(emit(format(), r, () => `${r.name} (${r.role})`));
    });

  registerTenantCommands(program, client, format, io, duration);
  registerBillingCommands(program, client, format, io);

  program
    .command('dashboard')
    .description('Serve the live dashboard for this API and token on loopback, until Ctrl-C (npm start serves one too)')
    .option('--port <n>', 'port to listen on (0: any free port)', integer('--port', 0, 65535), 8790)
    .action(async (o: { port: number }) => {
      const say = (fields: object, message: string) => io.err(`${message} ${JSON.stringify(fields)}\n`);
      const d = await startDashboard({ client: client(), port: o.port, log: { info: say, warn: say } });
      io.out(`dashboard: ${d.url} (Ctrl-C stops it)\n`);
      await new Promise<void>((r) => process.once('SIGINT', r));
      await d.close();
    });

  return program;
}

function integer(flag: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`${flag} must be an integer from ${min} to ${max}`);
    return n;
  };
}

function fraction(v: string): number {
  const n = Number(v);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError('--move-fraction must be a number from 0 to 1');
  return n;
}

function parseHotspot(v: string): Hotspot {
  const parts = v.split(',').map(Number);
  if (parts.length !== 3 || parts.some((p) => !Number.isInteger(p)) || parts[2]! <= 0) {
    throw new InvalidArgumentError('--hotspot must be x,y,r with integers and r > 0 (e.g. 100,100,50)');
  }
  return { x: parts[0]!, y: parts[1]!, r: parts[2]! };
}

const OperationResponseSchema = z.object({ operation: OperationDocSchema });
const OperationListSchema = z.object({ items: z.array(OperationDocSchema) });
const ConfigViewSchema = z.object({
  overrides: z.record(z.string(), z.unknown()),
  version: z.number(),
  updatedAt: z.string().nullable(),
  updatedBy: z.string().nullable(),
});
const ConfigPatchResultSchema = z.object({ version: z.number(), changedKeys: z.array(z.string()) });

/** Polls an operation until it completes or rolls back. */
async function waitOperation(c: ApiClient, world: string, id: string, timeoutMs: number): Promise<OperationDoc> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await c.request('GET', `/v1/worlds/${encodeURIComponent(world)}/operations`, OperationListSchema);
    const op = r.items.find((o) => o.id === id);
    if (!op) throw new CliError(`operation ${id} not found in world ${world}`);
    if (op.state === 'Completed' || op.state === 'RolledBack') return op;
    if (Date.now() > deadline) throw new CliError(`operation ${id} still ${op.state} after ${timeoutMs / 1000}s`);
    await sleep(200);
  }
}

/** Runs ffctl; resolves to the exit code. */
export async function run(argv: string[], io: Io): Promise<number> {
  useColors(colorEnabled(io.env, io.isTTY ?? false));
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    const e = err as { code?: string; exitCode?: number; message?: string };
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
    if (e.code?.startsWith('commander.')) return e.exitCode && e.exitCode !== 0 ? 1 : 0;
    io.err(`${color.red('error:')} ${e.message ?? String(err)}\n`);
    return err instanceof CliError ? err.exitCode : 1;
  }
}
