import { FUNCTIONS } from '@fleetforge/shared';
import { repoRoot } from '../gen/documents';
import { bundleEntries, bundleLockfile, sha256, zipEntries, type Lockfile } from './bundle';

const pkg = { name: 'app', version: '1.0.0', dependencies: { a: '^1', lib: '0.1.0' } };
const lock: Lockfile = {
  lockfileVersion: 3,
  packages: {
    '': { name: 'mono' },
    app: { version: '1.0.0' },
    'node_modules/lib': { resolved: 'lib', link: true },
    'node_modules/a': { version: '1.0.0', dependencies: { b: '^2', gone: '^1' }, optionalDependencies: { gone: '^1' } },
    'node_modules/a/node_modules/b': { version: '2.0.0', dev: true },
    'node_modules/b': { version: '3.0.0' },
    'node_modules/z': { version: '1.0.0', dependencies: { b: '^3' } },
    'node_modules/unused': { version: '9.9.9' },
  },
};

describe('bundleLockfile', () => {
  const out = bundleLockfile(lock, 'app', pkg, {
    lib: { name: 'lib', version: '0.1.0', dependencies: { z: '^1' } },
  });

  it('keeps what the workspace needs at run time, where Node finds it, and nothing else', () => {
    expect(Object.keys(out.packages)).toEqual([
      '',
      'node_modules/a',
      'node_modules/a/node_modules/b',
      'node_modules/b',
      'node_modules/lib',
      'node_modules/z',
      'vendor/lib',
    ]);
    expect(out.packages['']).toEqual({ name: 'app', version: '1.0.0', dependencies: pkg.dependencies });
  });

  it('links vendored workspace packages and drops the monorepo dev flags', () => {
    expect(out.packages['node_modules/lib']).toEqual({ resolved: 'vendor/lib', link: true });
    expect(out.packages['vendor/lib']).toEqual({ name: 'lib', version: '0.1.0', dependencies: { z: '^1' } });
    expect(out.packages['node_modules/a/node_modules/b']).toEqual({ version: '2.0.0' });
  });

  it('fails on a dependency the lockfile lacks, unless it is optional', () => {
    expect(() => bundleLockfile(lock, 'app', { ...pkg, dependencies: { missing: '^1' } }, {})).toThrow(
      /no missing for app/,
    );
  });
});

describe('the functions bundle', () => {
  const entries = bundleEntries(repoRoot);

  it('holds the built functions and shared, without tests', () => {
    expect(entries.has('dist/index.js')).toBe(true);
    expect(entries.has('vendor/shared/dist/index.js')).toBe(true);
    expect([...entries.keys()].filter((p) => /\.test\.js|\.d\.ts|tsbuildinfo|\/testing\//.test(p))).toEqual([]);
  });

  it('has a lockfile that resolves every dependency inside itself', () => {
    const bundleLock = JSON.parse(entries.get('package-lock.json')!.toString()) as Lockfile;
    const bundlePkg = JSON.parse(entries.get('package.json')!.toString()) as { dependencies: Record<string, string> };
    expect(bundleLock.packages['']?.dependencies).toEqual(bundlePkg.dependencies);
    expect(bundlePkg.dependencies['@fleetforge/shared']).toBe('file:vendor/shared');
    for (const [key, entry] of Object.entries(bundleLock.packages)) {
      if (key === '' || entry.link || key.startsWith('vendor/')) continue;
      expect(entry.integrity ?? entry.resolved).toBeDefined();
      for (const dep of Object.keys(entry.dependencies ?? {})) {
        const chain = key.split('/node_modules/');
        const found = chain
          .map((_, i) => `${chain.slice(0, chain.length - i).join('/node_modules/')}/node_modules/${dep}`)
          .concat(`node_modules/${dep}`)
          .some((k) => k in bundleLock.packages);
        expect({ key, dep, found }).toEqual({ key, dep, found: true });
      }
    }
    expect(bundleLock.packages['node_modules/@google-cloud/functions-framework']).toBeDefined();
  });

  it('names no path of the machine it was built on', () => {
    const leaks = [...entries].filter(([, b]) => b.includes(repoRoot)).map(([p]) => p);
    expect(leaks).toEqual([]);
  });

  it('registers every function of the registry in its entry point', () => {
    // The entry point registers every entry of the function table; the table names each function.
    expect(entries.get('dist/index.js')!.toString()).toContain('require("./function-table")');
    const table = entries.get('dist/function-table.js')!.toString();
    for (const f of Object.values(FUNCTIONS)) expect(table).toContain(`FUNCTIONS.${f.name},`);
  });

  it('zips to the same bytes whatever the order or the time of the build', async () => {
    const a = await zipEntries(entries);
    const b = await zipEntries(new Map([...entries].reverse()));
    expect(sha256(a)).toBe(sha256(b));
    // Local file header of the first entry: DOS date at offset 12 (2000-01-01: year 20, month 1, day 1).
    expect(a.readUInt32LE(0)).toBe(0x04034b50);
    expect(a.readUInt16LE(12)).toBe((20 << 9) | (1 << 5) | 1);
  });
});
