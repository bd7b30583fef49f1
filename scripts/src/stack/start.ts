/** `npm start`: the whole system on this machine, until Ctrl-C. */
import { resolve } from 'node:path';
import { Command } from 'commander';
import pc from 'picocolors';
import { createLogger } from '@fleetforge/functions/adapters';
import { KubePrerequisiteError, PrerequisiteError } from '@fleetforge/emulators';
import { DEFAULT_PORT_BASE, StackFileSchema } from './config';
import { AlreadyRunningError, startStack } from './stack';

async function main(): Promise<void> {
  const program = new Command('fleetforge-start')
    .option('--port-base <n>', 'first port of the block the stack uses', String(DEFAULT_PORT_BASE))
    .option('--state-dir <dir>', 'where stack.json, the admin token and logs go', '.fleetforge')
    .option('--project <id>', 'emulator project id', 'fleetforge-local')
    .option(
      '--driver <name>',
      'how the agent runs cells: process, kubernetes (Pods; needs `npm run kube:up`), or external (no local agent)',
      'process',
    )
    .option('--kube-dir <dir>', 'state folder of the Kubernetes tier (kube:up --dir)', '.fleetforge/kube')
    .parse();
  const o = program.opts<{ portBase: string; stateDir: string; project: string; driver: string; kubeDir: string }>();
  const driver = StackFileSchema.shape.driver.safeParse(o.driver);
  if (!driver.success) throw new Error(`--driver must be process, kubernetes or external, got ${o.driver}`);
  const portBase = Number(o.portBase);
  if (!Number.isInteger(portBase) || portBase < 1024 || portBase > 65000) {
    throw new Error(`--port-base must be an integer from 1024 to 65000, got ${o.portBase}`);
  }
  const log = createLogger('stack');
  const started = Date.now();
  const stack = await startStack({
    stateDir: o.stateDir,
    portBase,
    project: o.project,
    root: resolve(__dirname, '..', '..', '..'),
    log,
    driver: driver.data,
    kubeDir: o.kubeDir,
  });
  const f = stack.file;
  const lines = [
    pc.bold(pc.green(`FleetForge is up (${((Date.now() - started) / 1000).toFixed(1)} s)`)),
    `  dashboard    ${pc.bold(f.dashboard)}`,
    `  api          ${f.api}`,
    `  token        ${f.tokenFile}`,
    `  firestore    ${f.emulators.firestore}   pubsub ${f.emulators.pubsub}`,
    ...Object.entries(f.functions).map(([n, u]) => `  fn ${n.padEnd(16)} ${u}`),
    f.kube
      ? `  driver       kubernetes: cells are Pods in ${f.kube.namespace} on ${f.kube.server} (KUBECONFIG=${f.kube.kubeconfig})`
      : f.driver === 'external'
        ? `  driver       external: no local agent; cells run where an agent consumes agent-commands (agent/deploy)`
        : `  driver       process: cells are local processes`,
    f.redis
      ? `  sessions     checkpointed to ${f.redis} every 100 ms (a crashed cell's replacement restores them)`
      : `  sessions     in memory only: install redis-server for durable sessions`,
    `  metrics      ${f.api}/metrics (worlds and cells)${f.metrics.agent ? `, ${f.metrics.agent} (agent)` : ''}`,
    `  logs         ${f.logDir}`,
    '',
    `  try: npx ffctl world apply -f examples/worldspec-basic.yaml && npx ffctl world wait world-a --ready`,
    pc.dim('  Ctrl-C stops everything.'),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);

  let stopping = false;
  const shutdown = async (why: string, code: number) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${why}; stopping FleetForge…\n`);
    await stack.stop();
    process.stdout.write('stopped.\n');
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown('SIGINT', 0));
  process.on('SIGTERM', () => void shutdown('SIGTERM', 0));
  void stack.failed.then((why) => shutdown(why, 1));
}

main().catch((err: unknown) => {
  const known =
    err instanceof AlreadyRunningError || err instanceof PrerequisiteError || err instanceof KubePrerequisiteError;
  process.stderr.write(`${pc.red('fleetforge: cannot start:')} ${(err as Error).message}\n`);
  process.exit(known ? 2 : 1);
});
