/**
 * `npm run tenant:bootstrap`: a sample dev tenant and a sample standard tenant on
 * the running stack (it needs `npm run kube:up` and `npm start -- --driver kubernetes`),
 * through ffctl exactly as an operator would type it.
 *
 *   npm run tenant:bootstrap -- [--dev NAME] [--standard NAME]
 */
import { Command } from 'commander';
import { run } from '../ffctl/main';

async function main(): Promise<void> {
  const o = new Command('tenant-bootstrap')
    .option('--dev <name>', 'the sample dev tenant', 'sample-dev')
    .option('--standard <name>', 'the sample standard tenant', 'sample-standard')
    .parse()
    .opts<{ dev: string; standard: string }>();
  const io = {
    out: (t: string) => process.stdout.write(t),
    err: (t: string) => process.stderr.write(t),
    env: process.env,
    cwd: process.cwd(),
    isTTY: process.stdout.isTTY === true,
  };
  for (const [name, tier] of [
    [o.dev, 'dev'],
    [o.standard, 'standard'],
  ] as const) {
    const code = await run(['tenant', 'create', name, '--tier', tier], io);
    if (code !== 0) process.exit(code);
  }
  process.stdout.write(
    `\nnext: npx ffctl tenant status ${o.standard}; npx ffctl tenant kubeconfig ${o.standard} > ${o.standard}.kubeconfig\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`tenant:bootstrap failed: ${(err as Error).message}\n`);
  process.exit(1);
});
