/** `npm run gen`: writes the generated documents under docs/. */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generatedDocuments } from './documents';

const docs = resolve(__dirname, '..', '..', '..', 'docs');
for (const [name, text] of Object.entries(generatedDocuments())) {
  writeFileSync(join(docs, name), text);
  process.stdout.write(`wrote docs/${name}\n`);
}
