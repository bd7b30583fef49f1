/** `npm run kube:down`: stops what `kube:up` started (node shim, scheduler, controllers, apiserver, etcd). */
import { Command } from 'commander';
import { stopKubeFromState } from '@fleetforge/emulators';

async function main(): Promise<void> {
  const o = new Command('kube-down')
    .option('--dir <dir>', 'state folder', '.fleetforge/kube')
    .parse()
    .opts<{ dir: string }>();
  const stopped = await stopKubeFromState(o.dir);
  process.stdout.write(stopped ? 'Kubernetes tier stopped.\n' : 'Kubernetes tier was not running.\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`kube:down failed: ${(err as Error).message}\n`);
  process.exit(1);
});
