import { z } from 'zod';
import { canonicalJson } from '../core/canonical';
import { IsoTimeSchema } from '../world/model';
import { PeriodSchema, QuantitiesSchema } from './usage';

/**
 * Export manifests and their audit, pure. Hashing and HMAC come in through the
 * `Digests` port (node:crypto in the adapters), so this module does no I/O.
 */
export interface Digests {
  sha256Hex(data: Uint8Array | string): string;
  hmacSha256Hex(key: Uint8Array, data: string): string;
}

export const ManifestFileSchema = z.strictObject({
  key: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
  contentType: z.string().min(1),
});
export type ManifestFile = z.infer<typeof ManifestFileSchema>;

export const ExportManifestSchema = z.strictObject({
  version: z.literal(1),
  /** `day-2026-11-21`, or `day-2026-12-01-upto-231500` for a provisional export. */
  id: z.string().min(1),
  /** Position in the chain, from 1, without holes. */
  seq: z.number().int().positive(),
  window: z.strictObject({ id: z.string(), period: PeriodSchema, start: IsoTimeSchema, end: IsoTimeSchema }),
  /** False for `export --now`: the window was cut at generation time and is still open. */
  closed: z.boolean(),
  generatedAt: IsoTimeSchema,
  /** Who ran it: `system:billingExport` or `token:NAME`. */
  operator: z.string().min(1),
  previous: z.strictObject({ id: z.string(), seq: z.number().int().positive(), hash: z.string() }).nullable(),
  files: z.array(ManifestFileSchema).min(1),
  totals: z.strictObject({
    tenants: z.number().int().nonnegative(),
    samples: z.number().int().nonnegative(),
    cost: z.number().nonnegative(),
    currency: z.string(),
    ...QuantitiesSchema.shape,
  }),
  /** Fingerprint of the signing key (first 16 hex of its SHA-256), so a foreign signature is named as such. */
  keyId: z.string(),
  /** HMAC-SHA256 over the canonical JSON of every other field. */
  signature: z.string().regex(/^[0-9a-f]{64}$/),
});
export type ExportManifest = z.infer<typeof ExportManifestSchema>;
export type UnsignedManifest = Omit<ExportManifest, 'signature' | 'keyId'>;

export function keyId(key: Uint8Array, d: Digests): string {
  return d.sha256Hex(key).slice(0, 16);
}

export function signManifest(m: UnsignedManifest, key: Uint8Array, d: Digests): ExportManifest {
  const body = { ...m, keyId: keyId(key, d) };
  return { ...body, signature: d.hmacSha256Hex(key, canonicalJson(body)) };
}

/** The chain link: SHA-256 of the whole signed manifest, canonical. */
export function manifestHash(m: ExportManifest, d: Digests): string {
  return d.sha256Hex(canonicalJson(m));
}

/** Where a manifest lives: its seq first, so a listing is chain order. */
export function manifestKey(seq: number, id: string): string {
  return `billing/manifests/${String(seq).padStart(8, '0')}-${id}.json`;
}

/* ---------- audit ---------- */

export const TamperCauseSchema = z.enum([
  'ManifestUnreadable',
  'SignedWithAnotherKey',
  'SignatureInvalid',
  'FileMissing',
  'FileChanged',
  'ExportRemoved',
  'ExportReordered',
  'ChainBroken',
  'HeadMismatch',
]);
export type TamperCause = z.infer<typeof TamperCauseSchema>;

export const AuditProblemSchema = z.strictObject({
  cause: TamperCauseSchema,
  export: z.string().nullable(),
  file: z.string().nullable(),
  message: z.string(),
});
export type AuditProblem = z.infer<typeof AuditProblemSchema>;

export const AuditEntrySchema = z.strictObject({
  key: z.string(),
  id: z.string().nullable(),
  seq: z.number().int().nullable(),
  window: z.string().nullable(),
  generatedAt: z.string().nullable(),
  operator: z.string().nullable(),
  hash: z.string().nullable(),
  files: z.array(ManifestFileSchema),
  ok: z.boolean(),
});
export type AuditEntry = z.infer<typeof AuditEntrySchema>;

export const AuditReportSchema = z.strictObject({
  ok: z.boolean(),
  checkedAt: IsoTimeSchema,
  exports: z.array(AuditEntrySchema),
  problems: z.array(AuditProblemSchema),
});
export type AuditReport = z.infer<typeof AuditReportSchema>;

export interface AuditInput {
  /** Every stored manifest, by key, in key order (a listing of `billing/manifests/`). */
  manifests: ReadonlyArray<{ key: string; bytes: Uint8Array }>;
  /** Reads an export file; undefined when it is gone. */
  file: (key: string) => Uint8Array | undefined;
  /** What the control plane recorded as the chain head (Firestore), if anything. */
  head: { seq: number; hash: string } | null;
  key: Uint8Array;
  digests: Digests;
  now: string;
}

/**
 * Verifies every export: manifest signature (naming a foreign key), each file's
 * SHA-256 and size, the hash chain (a removed, reordered or replaced manifest),
 * and that the last manifest is the head the control plane recorded (removing
 * the newest export leaves no hole in the chain, only a stale head).
 */
export function auditExports(input: AuditInput): AuditReport {
  const { digests: d } = input;
  const ownKeyId = keyId(input.key, d);
  const problems: AuditProblem[] = [];
  const entries: AuditEntry[] = [];
  const problem = (cause: TamperCause, exp: string | null, message: string, file: string | null = null) =>
    problems.push({ cause, export: exp, file, message });

  let prev: { m: ExportManifest; hash: string } | null = null;
  for (const { key, bytes } of input.manifests) {
    const before = problems.length;
    let m: ExportManifest;
    try {
      m = ExportManifestSchema.parse(JSON.parse(new TextDecoder().decode(bytes)));
    } catch (err) {
      problem('ManifestUnreadable', null, `${key}: not a valid manifest (${(err as Error).message.slice(0, 200)})`);
      entries.push({
        key,
        id: null,
        seq: null,
        window: null,
        generatedAt: null,
        operator: null,
        hash: null,
        files: [],
        ok: false,
      });
      continue;
    }
    const hash = manifestHash(m, d);
    const { signature, ...body } = m;
    if (m.keyId !== ownKeyId) {
      problem('SignedWithAnotherKey', m.id, `${m.id}: signed with key ${m.keyId}, not this deployment's ${ownKeyId}`);
    } else if (d.hmacSha256Hex(input.key, canonicalJson(body)) !== signature) {
      problem(
        'SignatureInvalid',
        m.id,
        `${m.id}: signature does not match its content (manifest edited after signing)`,
      );
    }
    if (key !== manifestKey(m.seq, m.id)) {
      problem('ExportReordered', m.id, `${m.id}: stored as ${key} but it is seq ${m.seq}`);
    }
    const expectedSeq = prev ? prev.m.seq + 1 : 1;
    if (m.seq > expectedSeq) {
      problem(
        'ExportRemoved',
        m.id,
        `export seq ${expectedSeq}${m.seq - 1 > expectedSeq ? `..${m.seq - 1}` : ''} missing before ${m.id}`,
      );
    } else if (m.seq < expectedSeq) {
      problem('ExportReordered', m.id, `${m.id} (seq ${m.seq}) comes after seq ${expectedSeq - 1}`);
    }
    if (prev && m.seq === prev.m.seq + 1 && (m.previous?.hash !== prev.hash || m.previous.id !== prev.m.id)) {
      problem('ChainBroken', m.id, `${m.id}: previous hash does not match ${prev.m.id} (replaced or re-signed)`);
    }
    if (!prev && m.seq === 1 && m.previous !== null) {
      problem('ChainBroken', m.id, `${m.id}: first export names a previous one`);
    }
    for (const f of m.files) {
      const got = input.file(f.key);
      if (!got) problem('FileMissing', m.id, `${f.key}: listed in ${m.id} but missing`, f.key);
      else {
        const sha = d.sha256Hex(got);
        if (sha !== f.sha256 || got.byteLength !== f.size) {
          problem(
            'FileChanged',
            m.id,
            `${f.key}: content changed (sha256 ${sha.slice(0, 12)}…, ${got.byteLength} bytes; manifest says ${f.sha256.slice(0, 12)}…, ${f.size} bytes)`,
            f.key,
          );
        }
      }
    }
    entries.push({
      key,
      id: m.id,
      seq: m.seq,
      window: m.window.id,
      generatedAt: m.generatedAt,
      operator: m.operator,
      hash,
      files: m.files,
      ok: problems.length === before,
    });
    prev = { m, hash };
  }
  if (input.head) {
    if (!prev || prev.m.seq < input.head.seq) {
      problem(
        'ExportRemoved',
        null,
        `the chain head is seq ${input.head.seq} but the newest stored manifest is ${prev ? `seq ${prev.m.seq}` : 'none'}`,
      );
    } else if (prev.m.seq === input.head.seq && prev.hash !== input.head.hash) {
      problem('HeadMismatch', prev.m.id, `${prev.m.id}: hash differs from the chain head the control plane recorded`);
    }
  }
  return { ok: problems.length === 0, checkedAt: input.now, exports: entries, problems };
}
