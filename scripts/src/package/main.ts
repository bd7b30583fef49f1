/** `npm run package`: writes dist/functions.zip (terraform/storage.tf uploads it) and prints its sha256. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../gen/documents';
import { bundleEntries, sha256, zipEntries } from './bundle';

async function main(): Promise<void> {
  const entries = bundleEntries(repoRoot);
  const zip = await zipEntries(entries);
  const out = join(repoRoot, 'dist', 'functions.zip');
  mkdirSync(join(repoRoot, 'dist'), { recursive: true });
  writeFileSync(out, zip);
  process.stdout.write(`${out}\n  ${entries.size} files, ${zip.length} bytes\n  sha256 ${sha256(zip)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`package: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
