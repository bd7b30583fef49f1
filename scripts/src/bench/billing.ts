/**
 * `npm run bench:billing`: closes one UTC day of synthetic usage for 100, 1,000
 * and 10,000 tenants into a signed export (the billingExport handler, unchanged),
 * then audits it. Firestore is the in-memory StateStore behind a counter of the
 * reads and writes the same code issues against Firestore; exports go to a real
 * folder (the local BlobStore) and are signed with node:crypto. Writes
 * bench-results/billing.json. Target: 10,000 tenants exported in < 60 s;
 * freshness (window close → export verified) < 1 min.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  type DocData,
  type DocSnapshot,
  type Query,
  type StateStore,
  type Transaction,
  type VersionedDoc,
  type WriteOp,
} from '@fleetforge/shared';
import { FakeClock, MemoryBus, MemoryStateStore, RecordingMetricsSink, SeqIds } from '@fleetforge/shared/testing';
import { LocalBlobStore, createLogger } from '@fleetforge/functions/adapters';
import { auditBilling, billingExport, ingestUsage, nodeDigests, testDeps } from '@fleetforge/functions';
import { machine, summarize } from './machine';
import { syntheticTenants } from './synthetic-tenants';

const ROOT = resolve(__dirname, '..', '..', '..');
const DAY = '2026-11-21';
const SIZES = (process.env.BENCH_TENANTS ?? '100,1000,10000').split(',').map(Number);

/** Counts what Firestore would bill: one read per document returned, one write per document written. */
class CountingStore implements StateStore {
  reads = 0;
  writes = 0;
  constructor(private readonly inner: StateStore) {}
  reset(): void {
    this.reads = 0;
    this.writes = 0;
  }
  async get(path: string): Promise<DocData | undefined> {
    this.reads++;
    return this.inner.get(path);
  }
  async getVersioned(path: string): Promise<VersionedDoc | undefined> {
    this.reads++;
    return this.inner.getVersioned(path);
  }
  async list(collection: string, query?: Query): Promise<DocSnapshot[]> {
    const r = await this.inner.list(collection, query);
    this.reads += Math.max(1, r.length);
    return r;
  }
  async create(path: string, data: DocData): Promise<void> {
    this.writes++;
    return this.inner.create(path, data);
  }
  async set(path: string, data: DocData): Promise<void> {
    this.writes++;
    return this.inner.set(path, data);
  }
  async update(path: string, patch: DocData): Promise<void> {
    this.writes++;
    return this.inner.update(path, patch);
  }
  async delete(path: string): Promise<void> {
    this.writes++;
    return this.inner.delete(path);
  }
  async batch(ops: readonly WriteOp[]): Promise<void> {
    this.writes += ops.length;
    return this.inner.batch(ops);
  }
  runTransaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    return this.inner.runTransaction((tx) =>
      fn({
        get: (p) => ((this.reads += 1), tx.get(p)),
        list: async (c, q) => {
          const r = await tx.list(c, q);
          this.reads += Math.max(1, r.length);
          return r;
        },
        create: (p, d) => ((this.writes += 1), tx.create(p, d)),
        set: (p, d) => ((this.writes += 1), tx.set(p, d)),
        update: (p, d) => ((this.writes += 1), tx.update(p, d)),
        delete: (p) => ((this.writes += 1), tx.delete(p)),
      }),
    );
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

async function runOnce(tenants: number, seed: number) {
  const log = createLogger('bench', 'warn');
  const store = new CountingStore(new MemoryStateStore());
  const clock = new FakeClock(`2026-11-22T00:00:30.000Z`);
  const deps = testDeps({
    store,
    bus: new MemoryBus(),
    metrics: new RecordingMetricsSink(),
    clock,
    log,
    ids: new SeqIds(),
  });
  const dir = mkdtempSync(join(tmpdir(), 'ff-bench-billing-'));
  const billing = { blobs: new LocalBlobStore(dir), key: new Uint8Array(randomBytes(32)), digests: nodeDigests };
  try {
    const gen = syntheticTenants(tenants, DAY, seed);
    const t0 = performance.now();
    for (let i = 0; i < gen.samples.length; i += 500) {
      await ingestUsage(
        deps,
        {
          kind: 'usage',
          agentId: 'synthetic',
          at: clock.now().toISOString(),
          samples: gen.samples.slice(i, i + 500),
          correlationId: 'bench',
        },
        log,
      );
    }
    const ingestMs = performance.now() - t0;
    store.reset();
    const t1 = performance.now();
    const r = await billingExport(deps, billing, { now: false }, 'system:bench', 'bench');
    const exportMs = performance.now() - t1;
    const exportReads = store.reads;
    const exportWrites = store.writes;
    const t2 = performance.now();
    const audit = await auditBilling(deps, billing, 'system:bench', 'bench');
    const auditMs = performance.now() - t2;
    if (!audit.ok || r.status !== 'exported')
      throw new Error(`bench export did not verify: ${JSON.stringify(audit.problems)}`);
    return {
      samples: gen.samples.length,
      ingestMs,
      exportMs,
      auditMs,
      freshnessMs: exportMs + auditMs,
      bytes: r.bytes,
      files: r.export.files.map((f) => ({ key: f.key.split('/').at(-1), size: f.size })),
      exportReads,
      exportWrites,
      lines: r.export.tenants,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const results: Record<string, unknown>[] = [];
  for (const n of SIZES) {
    const runs = n <= 100 ? 7 : n <= 1000 ? 5 : Number(process.env.BENCH_RUNS_10K ?? 3);
    const out = [];
    for (let i = 0; i < runs; i++) out.push(await runOnce(n, i + 1));
    const last = out.at(-1)!;
    const row = {
      tenants: n,
      samplesPerRun: last.samples,
      runs,
      exportMs: summarize(out.map((o) => o.exportMs)),
      auditMs: summarize(out.map((o) => o.auditMs)),
      freshnessMs: summarize(out.map((o) => o.freshnessMs)),
      ingestMs: summarize(out.map((o) => o.ingestMs)),
      exportBytes: last.bytes,
      files: last.files,
      firestoreReadsPerExport: last.exportReads,
      firestoreWritesPerExport: last.exportWrites,
      targetMet: n < 10_000 || Math.max(...out.map((o) => o.exportMs)) < 60_000,
    };
    results.push(row);
    process.stdout.write(
      `${n} tenants: export p50 ${row.exportMs.p50Ms} ms p95 ${row.exportMs.p95Ms} ms, audit p50 ${row.auditMs.p50Ms} ms, ${row.exportBytes} bytes, ${row.firestoreReadsPerExport} reads, ${row.firestoreWritesPerExport} writes\n`,
    );
  }
  const doc = {
    benchmark: 'billing',
    at: new Date().toISOString(),
    machine: machine(),
    setup:
      'one UTC day, one sample per tenant and hour (~2% hours missing); billingExport handler on the in-memory StateStore (Firestore reads/writes counted at the port), LocalBlobStore on disk, HMAC-SHA256 via node:crypto; audit = full verification of checksums, signatures and chain',
    target: { tenants: 10_000, exportSeconds: 60, freshnessSeconds: 60 },
    results,
  };
  mkdirSync(join(ROOT, 'bench-results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench-results', 'billing.json'), `${JSON.stringify(doc, null, 2)}\n`);
  process.stdout.write('wrote bench-results/billing.json\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
