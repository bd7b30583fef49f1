/** `npm run gen`: writes the generated files (docs/, terraform/). */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generatedFiles, repoRoot } from './documents';

for (const [path, text] of Object.entries(generatedFiles())) {
  writeFileSync(join(repoRoot, path), text);
  process.stdout.write(`wrote ${path}\n`);
}
