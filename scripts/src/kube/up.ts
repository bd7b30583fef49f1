/** `npm run kube:up`: the Kubernetes tier on loopback, in the background, until `npm run kube:down`. */
import { resolve } from 'node:path';
import { Command } from 'commander';
import pc from 'picocolors';
import { DEFAULT_KUBE_PORT_BASE, KubePrerequisiteError, startKube } from '@fleetforge/emulators';

export const ROOT = resolve(__dirname, '..', '..', '..');

async function main(): Promise<void> {
  const o = new Command('kube-up')
    .option('--dir <dir>', 'state folder (kubeconfig, data, logs)', '.fleetforge/kube')
    .option(
      '--port-base <n>',
      'first of five ports (etcd, apiserver, controllers, scheduler)',
      String(DEFAULT_KUBE_PORT_BASE),
    )
    .parse()
    .opts<{ dir: string; portBase: string }>();
  const portBase = Number(o.portBase);
  if (!Number.isInteger(portBase) || portBase < 1024 || portBase > 65000) {
    throw new KubePrerequisiteError(`--port-base must be an integer from 1024 to 65000, got ${o.portBase}`);
  }
  const started = Date.now();
  const kube = await startKube({
    dir: o.dir,
    portBase,
    detach: true,
    cellMain: resolve(ROOT, 'agent', 'dist', 'cell', 'main.js'),
    log: (m) => process.stderr.write(`${pc.dim(m)}\n`),
  });
  const s = kube.state;
  process.stdout.write(
    [
      pc.bold(pc.green(`Kubernetes tier is up (${((Date.now() - started) / 1000).toFixed(1)} s)`)),
      `  apiserver    ${s.server}`,
      `  kubeconfig   ${s.kubeconfig}`,
      `  logs         ${s.dir}/logs`,
      '',
      `  next: npm start -- --driver kubernetes`,
      pc.dim('  npm run kube:down stops it.'),
      '',
    ].join('\n'),
  );
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`${pc.red('kube:up failed:')} ${(err as Error).message}\n`);
  process.exit(err instanceof KubePrerequisiteError ? 2 : 1);
});
