import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { FleetError } from '@fleetforge/shared';

/**
 * The manifest signing key. On GCP it comes from Secret Manager as the secret
 * environment variable FF_BILLING_KEY (base64); locally it is a generated file
 * readable by its owner only (0600), created on first use.
 */
export function loadBillingKey(opts: { base64?: string; file?: string }): Uint8Array {
  if (opts.base64) {
    const key = Buffer.from(opts.base64, 'base64');
    if (key.byteLength < 32) throw new FleetError('FAILED_PRECONDITION', 'FF_BILLING_KEY must be at least 32 bytes');
    return new Uint8Array(key);
  }
  if (!opts.file)
    throw new FleetError('FAILED_PRECONDITION', 'no billing key: set FF_BILLING_KEY or FF_BILLING_KEY_FILE');
  const file = opts.file;
  try {
    mkdirSync(dirname(file), { recursive: true });
    // wx: two processes starting together must not each write their own key.
    writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new FleetError(
      'FAILED_PRECONDITION',
      `billing key ${file} is readable by others (mode ${mode.toString(8)}); chmod 600 it`,
    );
  }
  return new Uint8Array(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64'));
}
