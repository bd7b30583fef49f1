import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generatedFiles, repoRoot } from './documents';

describe('generated files', () => {
  it.each(Object.entries(generatedFiles()))('%s is up to date (run `npm run gen`)', (path, text) => {
    expect(readFileSync(join(repoRoot, path), 'utf8')).toBe(text);
  });

  it('documents every route with its permission', () => {
    const doc = JSON.parse(generatedFiles()['docs/openapi.json']!) as {
      paths: Record<string, Record<string, { 'x-fleetforge-permission'?: string }>>;
    };
    expect(doc.paths['/v1/worlds']?.post?.['x-fleetforge-permission']).toBe('worlds:write');
    expect(doc.paths['/v1/worlds/{name}']?.delete?.['x-fleetforge-permission']).toBe('worlds:write');
    expect(doc.paths['/v1/events']?.get?.['x-fleetforge-permission']).toBe('events:read');
  });

  it('documents every route of the OpenAPI document in docs/api.md', () => {
    const doc = JSON.parse(generatedFiles()['docs/openapi.json']!) as { paths: Record<string, object> };
    const md = generatedFiles()['docs/api.md']!;
    const routes = Object.entries(doc.paths).flatMap(([p, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${p}`),
    );
    expect(routes.length).toBeGreaterThan(10);
    for (const r of routes) expect(md).toContain(`### \`${r}\``);
    expect(md).toContain('Auth: bearer token with the `worlds:write` permission.');
    expect(md).toContain('| `INVALID_ARGUMENT` | 400 | no |');
  });
});
