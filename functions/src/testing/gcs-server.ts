/**
 * A server speaking the Cloud Storage JSON API, for integration tests of GcsBlobStore
 * (test-only: production code never imports this file).
 *
 * Google ships no Storage emulator; firebase-tools does, but its CLI wants Java 21 and a
 * downloaded rules jar. So its StorageEmulator is loaded in-process instead: the rules
 * runtime and manager are no-ops (the GCS JSON API endpoints are admin-only and never
 * consult rules), blobs go to a temp folder of this instance, and it is registered with
 * firebase-tools' EmulatorRegistry (its responses build URLs from it).
 *
 * The emulator ignores preconditions (`ifGenerationMatch` …), which is exactly what a
 * create-only export relies on. A small proxy in front enforces them: under a per-object
 * lock it reads the object's generation and answers 412 as GCS does when the condition
 * fails, so five concurrent `ifGenerationMatch=0` writes give one success and four 412s.
 * A precondition the proxy does not enforce is answered 501, never silently ignored.
 *
 * This drives firebase-tools internals (lib/emulator/...), so the version is pinned
 * (functions/package.json) and checked here; a different version fails with what to check.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createRequire } from 'node:module';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The firebase-tools version whose internals this file was written and checked against. */
export const FIREBASE_TOOLS_VERSION = '15.34.2';

const MODULES = {
  pkg: 'firebase-tools/package.json',
  storage: 'firebase-tools/lib/emulator/storage/index.js',
  registry: 'firebase-tools/lib/emulator/registry.js',
} as const;

export interface GcsServerOptions {
  /** Project the emulator believes it serves (any id works for the JSON API). */
  projectId?: string;
  /**
   * Caps `maxResults` of object listings. GCS may return fewer items than asked; a small
   * cap makes a client's paging (nextPageToken) observable with a few dozen objects.
   */
  maxPageSize?: number;
}

export interface GcsServer {
  /** `apiEndpoint` for @google-cloud/storage (the proxy). */
  endpoint: string;
  /** Every request the proxy received, as `METHOD /path?query`, oldest first. */
  requests: string[];
  stop(): Promise<void>;
}

/* ---------- firebase-tools internals (untyped JS): the shapes used here ---------- */

interface RulesIssues {
  errors: string[];
  warnings: string[];
  all: string[];
}
interface StorageEmulatorArgs {
  projectId: string;
  host: string;
  port: number;
  rules: { name: string; content: string };
  auto_download: boolean;
}
interface StorageEmulatorInstance {
  start(): Promise<void>;
  stop(): Promise<void>;
  getName(): string;
  _rulesRuntime?: { start: (autoDownload?: boolean) => Promise<void>; stop: () => Promise<void> };
}
type StorageEmulatorClass = new (args: StorageEmulatorArgs) => StorageEmulatorInstance;
interface EmulatorRegistry {
  start(instance: StorageEmulatorInstance): Promise<void>;
  stop(name: string): Promise<void>;
  isRunning(name: string): boolean;
}

const STORAGE = 'storage';

function internalsError(what: string): Error {
  return new Error(
    `gcs-server: ${what}. It drives firebase-tools ${FIREBASE_TOOLS_VERSION} internals ` +
      `(${MODULES.storage}: StorageEmulator; ${MODULES.registry}: EmulatorRegistry); ` +
      'if firebase-tools was upgraded, check they still have the shapes used in functions/src/testing/gcs-server.ts, ' +
      'then update FIREBASE_TOOLS_VERSION there and the exact pin in functions/package.json.',
  );
}

function loadInternals(): { StorageEmulator: StorageEmulatorClass; EmulatorRegistry: EmulatorRegistry } {
  const load = createRequire(__filename);
  let version: unknown;
  try {
    version = (load(MODULES.pkg) as { version?: unknown }).version;
  } catch (err) {
    throw new Error(
      `gcs-server: firebase-tools is not installed (a devDependency of functions; npm ci installs it): ${(err as Error).message}`,
    );
  }
  if (version !== FIREBASE_TOOLS_VERSION) throw internalsError(`firebase-tools ${String(version)} is installed`);
  const pick = (path: string, name: string): unknown => {
    try {
      return (load(path) as Record<string, unknown>)[name];
    } catch (err) {
      throw internalsError(`cannot load ${path} (${(err as Error).message})`);
    }
  };
  const StorageEmulator = pick(MODULES.storage, 'StorageEmulator') as StorageEmulatorClass | undefined;
  const EmulatorRegistry = pick(MODULES.registry, 'EmulatorRegistry') as EmulatorRegistry | undefined;
  const proto = (StorageEmulator as { prototype?: Record<string, unknown> } | undefined)?.prototype;
  for (const m of ['start', 'stop', 'getName', 'createRulesManager', 'getPersistenceTmpDir']) {
    if (typeof proto?.[m] !== 'function') throw internalsError(`StorageEmulator.prototype.${m} is not a function`);
  }
  for (const m of ['start', 'stop', 'isRunning'] as const) {
    if (typeof EmulatorRegistry?.[m] !== 'function') throw internalsError(`EmulatorRegistry.${m} is not a function`);
  }
  return { StorageEmulator: StorageEmulator!, EmulatorRegistry: EmulatorRegistry! };
}

/** A port the OS says is free now (the emulator listens on a port it is given). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/* ---------- the precondition proxy ---------- */

interface Preconditions {
  ifGenerationMatch?: number;
  ifGenerationNotMatch?: number;
}

/** The object a request addresses, and whether it writes it (uploads and copies create objects). */
interface Target {
  bucket: string;
  name: string;
  creates: boolean;
  /** Resumable upload: set on the request that starts it, or the one that sends its bytes. */
  resumable?: { start: true } | { uploadId: string };
}

interface Upstream {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

const ENFORCED = new Set(['ifGenerationMatch', 'ifGenerationNotMatch']);
const HOP_BY_HOP = ['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade'];

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function preconditions(query: URLSearchParams): Preconditions | undefined {
  const out: Preconditions = {};
  let any = false;
  for (const [k, v] of query) {
    if (!/^if[A-Z]/.test(k)) continue;
    if (!ENFORCED.has(k)) throw new HttpError(501, `gcs-server does not enforce the precondition ${k}`);
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 0) throw new HttpError(400, `invalid ${k}: ${v}`);
    out[k as keyof Preconditions] = n;
    any = true;
  }
  return any ? out : undefined;
}

/** The object name of an upload: the `name` query parameter, else the JSON metadata (multipart or resumable start). */
function uploadName(query: URLSearchParams, headers: IncomingHttpHeaders, body: Buffer): string | undefined {
  let name = query.get('name') ?? undefined;
  const type = headers['content-type'] ?? '';
  if (name === undefined && /^application\/json/i.test(type)) {
    name = parseName(body.toString('utf8'));
  } else if (name === undefined && /^multipart\/related/i.test(type)) {
    const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
    for (const part of boundary ? body.toString('latin1').split(`--${boundary}`) : []) {
      const split = part.indexOf('\r\n\r\n');
      if (split < 0 || !/content-type:\s*application\/json/i.test(part.slice(0, split))) continue;
      name = parseName(Buffer.from(part.slice(split + 4), 'latin1').toString('utf8'));
      break;
    }
  }
  // The emulator drops one leading slash from upload names; so does the lock key.
  return name?.startsWith('/') ? name.slice(1) : name;
}

function parseName(json: string): string | undefined {
  try {
    const v = (JSON.parse(json) as { name?: unknown }).name;
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

function target(method: string, url: URL, headers: IncomingHttpHeaders, body: Buffer): Target | undefined {
  const upload = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
  if (upload && (method === 'POST' || method === 'PUT')) {
    const bucket = decodeURIComponent(upload[1]!);
    const uploadId = url.searchParams.get('upload_id');
    const name = uploadName(url.searchParams, headers, body);
    if (name === undefined) return undefined;
    if (uploadId) return { bucket, name, creates: true, resumable: { uploadId } };
    const resumable = (url.searchParams.get('uploadType') ?? headers['x-goog-upload-protocol']) === 'resumable';
    return { bucket, name, creates: true, ...(resumable ? { resumable: { start: true } } : {}) };
  }
  const copy = /^(?:\/storage\/v1)?\/b\/[^/]+\/o\/[^/]+\/(?:copyTo|rewriteTo)\/b\/([^/]+)\/o\/([^/]+)$/.exec(
    url.pathname,
  );
  if (copy) return { bucket: decodeURIComponent(copy[1]!), name: decodeURIComponent(copy[2]!), creates: true };
  const object = /^(?:\/download)?(?:\/storage\/v1)?\/b\/([^/]+)\/o\/([^/]+)$/.exec(url.pathname);
  if (object) return { bucket: decodeURIComponent(object[1]!), name: decodeURIComponent(object[2]!), creates: false };
  return undefined;
}

function conditionNotMet(): Upstream {
  const message = 'At least one of the pre-conditions you specified did not hold.';
  const body = JSON.stringify({
    error: {
      code: 412,
      message,
      errors: [{ message, domain: 'global', reason: 'conditionNotMet', locationType: 'header', location: 'If-Match' }],
    },
  });
  return { status: 412, headers: { 'content-type': 'application/json; charset=UTF-8' }, body: Buffer.from(body) };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * Starts the Storage emulator on a free loopback port and the precondition proxy in
 * front of it. One per process (firebase-tools' EmulatorRegistry holds one Storage
 * emulator); tests start it in beforeAll and stop it in afterAll.
 */
export async function startGcsServer(options: GcsServerOptions = {}): Promise<GcsServer> {
  const { StorageEmulator, EmulatorRegistry } = loadInternals();
  if (EmulatorRegistry.isRunning(STORAGE)) {
    throw new Error('gcs-server: a Storage emulator is already registered in this process; stop it first');
  }
  const dir = mkdtempSync(join(tmpdir(), 'ff-gcs-'));
  const noRules: RulesIssues = { errors: [], warnings: [], all: [] };

  class InProcessStorageEmulator extends StorageEmulator {
    /** No rules: the JSON API (admin) endpoints never consult them, and loading them needs Java. */
    createRulesManager() {
      return { start: async () => noRules, stop: async () => undefined, getRuleset: () => undefined };
    }
    /** Its own folder: the default is shared by every emulator on the machine, and stop() deletes it. */
    getPersistenceTmpDir() {
      return join(dir, 'blobs');
    }
  }

  const emulatorPort = await freePort();
  const emulator = new InProcessStorageEmulator({
    projectId: options.projectId ?? 'demo-fleetforge',
    host: '127.0.0.1',
    port: emulatorPort,
    rules: { name: join(dir, 'storage.rules'), content: '' },
    auto_download: false,
  });
  const runtime = emulator._rulesRuntime;
  if (!runtime || typeof runtime.start !== 'function' || typeof runtime.stop !== 'function') {
    rmSync(dir, { recursive: true, force: true });
    throw internalsError('StorageEmulator has no _rulesRuntime with start() and stop()');
  }
  runtime.start = async () => undefined;
  runtime.stop = async () => undefined;
  try {
    await EmulatorRegistry.start(emulator);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  const agent = new Agent({ keepAlive: true });
  const requests: string[] = [];
  /** The tail of each object's queue of requests (key `bucket/name`). */
  const locks = new Map<string, Promise<void>>();
  /** Resumable uploads that were started, by upload id: GCS checks their preconditions again at the end. */
  const pendingUploads = new Map<string, { bucket: string; name: string; pre: Preconditions | undefined }>();

  const withLock = async <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    const prev = locks.get(key) ?? Promise.resolve();
    let release!: () => void;
    const tail = prev.then(() => new Promise<void>((r) => (release = r)));
    locks.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (locks.get(key) === tail) locks.delete(key);
    }
  };

  const forward = (method: string, path: string, headers: IncomingHttpHeaders, body: Buffer): Promise<Upstream> =>
    new Promise((resolve, reject) => {
      const h: IncomingHttpHeaders = { ...headers };
      for (const k of HOP_BY_HOP) delete h[k];
      if (body.length > 0 || h['content-length'] !== undefined) h['content-length'] = String(body.length);
      const up = httpRequest({ host: '127.0.0.1', port: emulatorPort, method, path, headers: h, agent }, (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => resolve({ status: r.statusCode ?? 502, headers: r.headers, body: Buffer.concat(chunks) }));
        r.on('error', reject);
      });
      up.on('error', reject);
      up.end(body);
    });

  /** The object's generation, 0 when it does not exist (GCS's meaning of ifGenerationMatch=0). */
  const generation = async (bucket: string, name: string): Promise<number> => {
    const path = `/storage/v1/b/${encodeURIComponent(bucket)}/o/${encodeURIComponent(name)}`;
    const r = await forward('GET', path, { host: `127.0.0.1:${emulatorPort}` }, Buffer.alloc(0));
    if (r.status === 404) return 0;
    if (r.status !== 200)
      throw new HttpError(502, `gcs-server: reading ${bucket}/${name} for a precondition gave ${r.status}`);
    return Number((JSON.parse(r.body.toString('utf8')) as { generation: string | number }).generation);
  };

  const handle = async (req: IncomingMessage): Promise<Upstream> => {
    const method = req.method ?? 'GET';
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://gcs-server');
    requests.push(`${method} ${url.pathname}${url.search}`);
    let pre = preconditions(url.searchParams);
    if (
      options.maxPageSize !== undefined &&
      method === 'GET' &&
      /^(?:\/storage\/v1)?\/b\/[^/]+\/o$/.test(url.pathname)
    ) {
      const asked = Number(url.searchParams.get('maxResults') ?? 1000);
      url.searchParams.set('maxResults', String(Math.min(asked, options.maxPageSize)));
    }
    const path = `${url.pathname}${url.search}`;
    const uploadId = url.searchParams.get('upload_id');
    const pending = uploadId === null ? undefined : pendingUploads.get(uploadId);
    const t: Target | undefined =
      pending && uploadId !== null
        ? { bucket: pending.bucket, name: pending.name, creates: true, resumable: { uploadId } }
        : target(method, url, req.headers, body);
    if (!t) {
      if (pre) throw new HttpError(501, `gcs-server cannot tell which object ${method} ${url.pathname} addresses`);
      return forward(method, path, req.headers, body);
    }
    return withLock(`${t.bucket}/${t.name}`, async () => {
      if (pending) pre = pending.pre ?? pre;
      if (pre) {
        const gen = await generation(t.bucket, t.name);
        // Reads, deletes and patches of a missing object answer 404 whatever the condition.
        const applies = t.creates || gen !== 0;
        const holds =
          (pre.ifGenerationMatch === undefined || pre.ifGenerationMatch === gen) &&
          (pre.ifGenerationNotMatch === undefined || pre.ifGenerationNotMatch !== gen);
        if (applies && !holds) return conditionNotMet();
      }
      const r = await forward(method, path, req.headers, body);
      if (t.resumable && 'start' in t.resumable && r.status === 200) {
        const location = r.headers.location;
        const id = location ? new URL(location).searchParams.get('upload_id') : null;
        if (id) pendingUploads.set(id, { bucket: t.bucket, name: t.name, pre });
      } else if (t.resumable && 'uploadId' in t.resumable && r.status < 300) {
        pendingUploads.delete(t.resumable.uploadId);
      }
      return r;
    });
  };

  const send = (res: ServerResponse, r: Upstream): void => {
    const headers: IncomingHttpHeaders = { ...r.headers };
    for (const k of HOP_BY_HOP) delete headers[k];
    headers['content-length'] = String(r.body.length);
    res.writeHead(r.status, headers);
    res.end(r.body);
  };

  const proxy = createServer((req, res) => {
    handle(req).then(
      (r) => send(res, r),
      (err: unknown) => {
        const status = err instanceof HttpError ? err.status : 502;
        const message = err instanceof Error ? err.message : String(err);
        send(res, {
          status,
          headers: { 'content-type': 'application/json; charset=UTF-8' },
          body: Buffer.from(JSON.stringify({ error: { code: status, message, errors: [{ message }] } })),
        });
      },
    );
  });
  try {
    await new Promise<void>((resolve, reject) => {
      proxy.once('error', reject);
      proxy.listen(0, '127.0.0.1', () => resolve());
    });
  } catch (err) {
    await EmulatorRegistry.stop(STORAGE);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const { port } = proxy.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    async stop() {
      await new Promise<void>((resolve) => {
        proxy.close(() => resolve());
        proxy.closeAllConnections();
      });
      agent.destroy();
      await EmulatorRegistry.stop(STORAGE);
      rmSync(dir, { recursive: true, force: true });
      if (EmulatorRegistry.isRunning(STORAGE)) throw new Error('gcs-server: the Storage emulator did not stop');
    },
  };
}
