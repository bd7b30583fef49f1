import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generatedDocuments } from './documents';

const docs = resolve(__dirname, '..', '..', '..', 'docs');

describe('generated documents', () => {
  it.each(Object.entries(generatedDocuments()))('docs/%s is up to date (run `npm run gen`)', (name, text) => {
    expect(readFileSync(join(docs, name), 'utf8')).toBe(text);
  });

  it('documents every route with its permission', () => {
    const doc = JSON.parse(generatedDocuments()['openapi.json']!) as {
      paths: Record<string, Record<string, { 'x-fleetforge-permission'?: string }>>;
    };
    expect(doc.paths['/v1/worlds']?.post?.['x-fleetforge-permission']).toBe('worlds:write');
    expect(doc.paths['/v1/worlds/{name}']?.delete?.['x-fleetforge-permission']).toBe('worlds:write');
    expect(doc.paths['/v1/events']?.get?.['x-fleetforge-permission']).toBe('events:read');
  });
});
