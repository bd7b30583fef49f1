/**
 * The functions source bundle that Cloud Functions builds (terraform/storage.tf
 * uploads it): functions/dist, the workspace package @fleetforge/shared vendored
 * under vendor/shared as a `file:` dependency (it is not on npm), and a lockfile
 * cut from the repository's own, so Cloud Build's `npm ci` installs exactly the
 * versions the tests ran against. Reproducible: entries sorted, one fixed mtime and
 * mode, no absolute paths; the same inputs give the same bytes (and sha256).
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { ZipFile } from 'yazl';
import { FleetError } from '@fleetforge/shared';

/**
 * Every entry's mtime, so no build date leaks into the bytes. Zip stores DOS time,
 * which yazl takes from the local fields of the Date: built from local fields, it
 * is the same in every time zone (and the UTC extra field is left out).
 */
export const FIXED_MTIME = new Date(2000, 0, 1, 0, 0, 0);
const VENDOR_SHARED = 'vendor/shared';
/** The runtime terraform/functions.tf deploys (nodejs22); the repository itself installs on Node 20 too. */
const RUNTIME_ENGINES = { node: '>=22' };

interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  link?: boolean;
  dev?: boolean;
  devOptional?: boolean;
  optional?: boolean;
  peer?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  [k: string]: unknown;
}
export interface Lockfile {
  name?: string;
  version?: string;
  lockfileVersion: number;
  requires?: boolean;
  packages: Record<string, LockEntry>;
}

interface PackageJson {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  [k: string]: unknown;
}

/**
 * Where Node would find `dep` from the package installed at `from` (a lockfile
 * key): its own node_modules, then each enclosing one up to the root.
 */
function resolveIn(lock: Lockfile, from: string, dep: string): string | undefined {
  let dir = from;
  for (;;) {
    const candidate = dir === '' ? `node_modules/${dep}` : `${dir}/node_modules/${dep}`;
    if (lock.packages[candidate]) return candidate;
    if (dir === '') return undefined;
    const i = dir.lastIndexOf('/node_modules/');
    dir = i >= 0 ? dir.slice(0, i) : '';
  }
}

/**
 * The lockfile of the bundle: the packages `workspace` (a workspace folder of the
 * repository) needs at run time, at the paths they take when it is the root.
 * The workspace packages it uses become `file:` links to vendor/<name>.
 */
export function bundleLockfile(
  lock: Lockfile,
  workspace: string,
  pkg: PackageJson,
  vendored: Record<string, PackageJson>,
): Lockfile {
  const out: Record<string, LockEntry> = {};
  const rootDeps = { ...pkg.dependencies };
  const queue: Array<{ from: string; deps: Record<string, string>; optional: Set<string> }> = [
    { from: workspace, deps: rootDeps, optional: new Set() },
  ];
  const seen = new Set<string>();
  while (queue.length > 0) {
    const { from, deps, optional } = queue.shift()!;
    for (const dep of Object.keys(deps).sort()) {
      const vendor = vendored[dep];
      if (vendor) {
        const at = `vendor/${dep.split('/').pop()!}`;
        out[`node_modules/${dep}`] = { resolved: at, link: true };
        if (!seen.has(at)) {
          seen.add(at);
          out[at] = { name: vendor.name, version: vendor.version, dependencies: vendor.dependencies ?? {} };
          queue.push({ from: '', deps: vendor.dependencies ?? {}, optional: new Set() });
        }
        continue;
      }
      const key = resolveIn(lock, from, dep);
      if (!key) {
        if (optional.has(dep)) continue;
        throw new FleetError('FAILED_PRECONDITION', `package-lock.json has no ${dep} for ${from || 'the root'}`);
      }
      const entry = lock.packages[key]!;
      if (entry.link) throw new FleetError('FAILED_PRECONDITION', `${dep} is a workspace package that is not vendored`);
      const target = key.startsWith(`${workspace}/`) ? key.slice(workspace.length + 1) : key;
      if (seen.has(target)) continue;
      if (out[target] && out[target].version !== entry.version) {
        throw new FleetError('FAILED_PRECONDITION', `${target} is needed at two versions`);
      }
      seen.add(target);
      // Dev/peer flags describe the monorepo's tree; in the bundle every package is a production one.
      const { dev: _dev, devOptional: _devOptional, peer: _peer, ...kept } = entry;
      out[target] = kept;
      const optionalPeers = Object.entries(entry.peerDependenciesMeta ?? {})
        .filter(([, m]) => m.optional)
        .map(([n]) => n);
      queue.push({
        from: key,
        deps: { ...entry.peerDependencies, ...entry.optionalDependencies, ...entry.dependencies },
        optional: new Set([...Object.keys(entry.optionalDependencies ?? {}), ...optionalPeers]),
      });
    }
  }
  const sorted = Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return {
    name: pkg.name,
    version: pkg.version,
    lockfileVersion: 3,
    requires: true,
    packages: { '': { name: pkg.name, version: pkg.version, dependencies: rootDeps }, ...sorted },
  };
}

/** Files of a build output that run: no tests, declarations or build info. */
function runtimeFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      // testing/: fakes and test servers (firebase-tools' emulator) that production never loads.
      if (statSync(path).isDirectory()) {
        if (name !== 'testing') walk(path);
      } else if (/\.js(\.map)?$/.test(name) && !/\.test\.js(\.map)?$/.test(name)) out.push(path);
    }
  };
  walk(dir);
  return out;
}

/** Every entry of the bundle, by path in the archive. */
export function bundleEntries(repoRoot: string): Map<string, Buffer> {
  const read = (p: string) => JSON.parse(readFileSync(join(repoRoot, p), 'utf8')) as unknown;
  const functionsPkg = read('functions/package.json') as PackageJson;
  const sharedPkg = read('shared/package.json') as PackageJson;
  const lock = read('package-lock.json') as Lockfile;

  const deps = { ...functionsPkg.dependencies, [sharedPkg.name]: `file:${VENDOR_SHARED}` };
  const pkg: PackageJson = {
    name: functionsPkg.name,
    version: functionsPkg.version,
    private: true,
    description: 'FleetForge Cloud Functions source bundle (npm run package)',
    main: 'dist/index.js',
    engines: RUNTIME_ENGINES,
    dependencies: Object.fromEntries(Object.entries(deps).sort(([a], [b]) => a.localeCompare(b))),
  };
  const json = (v: unknown) => Buffer.from(`${JSON.stringify(v, null, 2)}\n`);
  const entries = new Map<string, Buffer>();
  entries.set('package.json', json(pkg));
  entries.set(
    'package-lock.json',
    json(
      bundleLockfile(lock, 'functions', pkg, {
        [sharedPkg.name]: { ...sharedPkg, dependencies: sharedPkg.dependencies },
      }),
    ),
  );
  entries.set(
    `${VENDOR_SHARED}/package.json`,
    json({
      name: sharedPkg.name,
      version: sharedPkg.version,
      private: true,
      main: 'dist/index.js',
      exports: sharedPkg.exports,
      dependencies: sharedPkg.dependencies,
    }),
  );
  const add = (dir: string, prefix: string) => {
    for (const file of runtimeFiles(join(repoRoot, dir))) {
      const rel = relative(join(repoRoot, dir), file).split(sep).join('/');
      entries.set(`${prefix}${rel}`, readFileSync(file));
    }
  };
  add('functions/dist', 'dist/');
  add('shared/dist', `${VENDOR_SHARED}/dist/`);
  if (!entries.has('dist/index.js'))
    throw new FleetError('FAILED_PRECONDITION', 'functions/dist is empty: run npm run build');
  return entries;
}

/** The zip of `entries`: sorted, fixed mtime and mode, so equal entries give equal bytes. */
export function zipEntries(entries: Map<string, Buffer>): Promise<Buffer> {
  const zip = new ZipFile();
  for (const path of [...entries.keys()].sort()) {
    zip.addBuffer(entries.get(path)!, path, {
      mtime: FIXED_MTIME,
      mode: 0o100644,
      compressionLevel: 9,
      forceDosTimestamp: true,
    });
  }
  zip.end();
  return new Promise((resolveZip, reject) => {
    const chunks: Buffer[] = [];
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c));
    zip.outputStream.on('error', reject);
    zip.outputStream.on('end', () => resolveZip(Buffer.concat(chunks)));
  });
}

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
