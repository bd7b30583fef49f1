import { createHash, createHmac, randomBytes } from 'node:crypto';
import {
  auditExports,
  manifestHash,
  manifestKey,
  signManifest,
  type Digests,
  type ExportManifest,
  type UnsignedManifest,
} from './manifest';

const digests: Digests = {
  sha256Hex: (d) => createHash('sha256').update(d).digest('hex'),
  hmacSha256Hex: (k, d) => createHmac('sha256', k).update(d).digest('hex'),
};
const KEY = new Uint8Array(randomBytes(32));
const enc = (s: string) => new TextEncoder().encode(s);

/** A chain of n exports, each with one data file, as stored blobs. */
function chain(n: number, key = KEY) {
  const blobs = new Map<string, Uint8Array>();
  const manifests: ExportManifest[] = [];
  let prev: ExportManifest | null = null;
  for (let seq = 1; seq <= n; seq++) {
    const id = `day-2026-11-${String(20 + seq)}`;
    const fileKey = `billing/day/${id}/usage.csv`;
    const body = enc(`tenant,cost\nacme,${seq}.5\n`);
    blobs.set(fileKey, body);
    const unsigned: UnsignedManifest = {
      version: 1,
      id,
      seq,
      window: { id: id.slice(4), period: 'day', start: '2026-11-21T00:00:00.000Z', end: '2026-11-22T00:00:00.000Z' },
      closed: true,
      generatedAt: '2026-11-22T00:01:00.000Z',
      operator: 'system:billingExport',
      previous: prev ? { id: prev.id, seq: prev.seq, hash: manifestHash(prev, digests) } : null,
      files: [{ key: fileKey, sha256: digests.sha256Hex(body), size: body.byteLength, contentType: 'text/csv' }],
      totals: {
        tenants: 1,
        samples: 1,
        cost: seq + 0.5,
        currency: 'USD',
        cpuMillis: 1,
        memoryMiBSeconds: 0,
        vclusterMillis: 0,
        cellMillis: 0,
      },
    };
    const m = signManifest(unsigned, key, digests);
    blobs.set(manifestKey(seq, id), enc(JSON.stringify(m, null, 2)));
    manifests.push(m);
    prev = m;
  }
  const last = manifests.at(-1)!;
  return { blobs, manifests, head: { seq: last.seq, hash: manifestHash(last, digests) } };
}

function audit(blobs: Map<string, Uint8Array>, head: { seq: number; hash: string } | null, key = KEY) {
  const manifests = [...blobs]
    .filter(([k]) => k.startsWith('billing/manifests/'))
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, bytes]) => ({ key: k, bytes }));
  return auditExports({ manifests, file: (k) => blobs.get(k), head, key, digests, now: '2026-11-23T00:00:00.000Z' });
}

const causes = (r: ReturnType<typeof audit>) => r.problems.map((p) => p.cause);

describe('auditExports', () => {
  it('passes an untouched chain and lists lineage', () => {
    const { blobs, head } = chain(3);
    const r = audit(blobs, head);
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.exports.map((e) => [e.seq, e.id, e.operator, e.ok])).toEqual([
      [1, 'day-2026-11-21', 'system:billingExport', true],
      [2, 'day-2026-11-22', 'system:billingExport', true],
      [3, 'day-2026-11-23', 'system:billingExport', true],
    ]);
  });

  it('names one changed byte in a data file', () => {
    const { blobs, head } = chain(3);
    const k = 'billing/day/day-2026-11-22/usage.csv';
    const b = new Uint8Array(blobs.get(k)!);
    b[b.length - 2] = b[b.length - 2]! ^ 1;
    blobs.set(k, b);
    const r = audit(blobs, head);
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([expect.objectContaining({ cause: 'FileChanged', export: 'day-2026-11-22', file: k })]);
  });

  it('names a missing data file', () => {
    const { blobs, head } = chain(2);
    blobs.delete('billing/day/day-2026-11-21/usage.csv');
    expect(causes(audit(blobs, head))).toEqual(['FileMissing']);
  });

  it('names a removed export in the middle and at the end of the chain', () => {
    const mid = chain(3);
    mid.blobs.delete(manifestKey(2, 'day-2026-11-22'));
    expect(causes(audit(mid.blobs, mid.head))).toEqual(['ExportRemoved']);
    const end = chain(3);
    end.blobs.delete(manifestKey(3, 'day-2026-11-23'));
    expect(causes(audit(end.blobs, end.head))).toEqual(['ExportRemoved']);
  });

  it('names reordered exports (manifests swapped between keys)', () => {
    const { blobs, head } = chain(3);
    const k1 = manifestKey(1, 'day-2026-11-21');
    const k2 = manifestKey(2, 'day-2026-11-22');
    const a = blobs.get(k1)!;
    blobs.set(k1, blobs.get(k2)!);
    blobs.set(k2, a);
    expect(causes(audit(blobs, head))).toContain('ExportReordered');
  });

  it('names an edited manifest (content changed, old signature kept)', () => {
    const { blobs, head, manifests } = chain(2);
    const edited = { ...manifests[0]!, operator: 'token:mallory' };
    blobs.set(manifestKey(1, 'day-2026-11-21'), enc(JSON.stringify(edited)));
    expect(causes(audit(blobs, head))).toEqual(['SignatureInvalid', 'ChainBroken']);
  });

  it('names a manifest re-signed with another key', () => {
    const { blobs, head } = chain(2);
    const forged = chain(2, new Uint8Array(randomBytes(32)));
    blobs.set(manifestKey(2, 'day-2026-11-22'), forged.blobs.get(manifestKey(2, 'day-2026-11-22'))!);
    const r = audit(blobs, head);
    expect(causes(r)).toEqual(['SignedWithAnotherKey', 'ChainBroken', 'HeadMismatch']);
    expect(r.problems[0]!.message).toMatch(/signed with key [0-9a-f]{16}, not this deployment's/);
  });

  it('names an unreadable manifest', () => {
    const { blobs, head } = chain(1);
    blobs.set(manifestKey(1, 'day-2026-11-21'), enc('{"version":1'));
    expect(causes(audit(blobs, head))).toEqual(['ManifestUnreadable', 'ExportRemoved']);
  });
});
