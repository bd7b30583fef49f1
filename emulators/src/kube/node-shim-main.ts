/** The node shim process `kube:up` starts: plays kubelet for the fake nodes until SIGTERM. */
import { join } from 'node:path';
import { z } from 'zod';
import { CellRunner } from './cell-runner';
import { NodeShim, defaultFakeNodes, kubeConfigFrom } from './node-shim';
import { VclusterRunner } from './vcluster-runner';

const EnvSchema = z.object({
  FF_KUBECONFIG: z.string().min(1),
  FF_KUBE_ETCD: z.string().url(),
  FF_KUBE_DIR: z.string().min(1),
  FF_CELL_MAIN: z.string().min(1),
});

function log(message: string, data: Record<string, unknown> = {}): void {
  process.stderr.write(
    `${JSON.stringify({ severity: 'INFO', component: 'node-shim', time: new Date().toISOString(), message, ...data })}\n`,
  );
}

async function main(): Promise<void> {
  const env = EnvSchema.parse(process.env);
  const kc = kubeConfigFrom(env.FF_KUBECONFIG);
  const shim = new NodeShim(
    kc,
    [
      new CellRunner(env.FF_CELL_MAIN),
      new VclusterRunner({ host: kc, etcd: env.FF_KUBE_ETCD, dir: join(env.FF_KUBE_DIR, 'vclusters'), log }),
    ],
    log,
  );
  await shim.ensureNodes(defaultFakeNodes());
  await shim.start();
  log('node shim running', { nodes: defaultFakeNodes().map((n) => n.name) });
  const stop = () => void shim.close().finally(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`${JSON.stringify({ severity: 'ERROR', component: 'node-shim', message: String(err) })}\n`);
  process.exit(1);
});
