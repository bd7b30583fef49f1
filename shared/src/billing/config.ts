import { z } from 'zod';
import { FleetError } from '../core/errors';
import { parseOrThrow } from '../core/validation';
import { BillingConfigSchema, type BillingConfig } from './cost';

/** `PATCH /v1/config/billing`: dotted keys (`intervalMinutes`, `prices.standard.cpuHour`). */
export const BillingConfigPatchSchema = z.strictObject({
  set: z.record(z.string(), z.unknown()).default({}),
  /** Top-level keys back to their defaults. */
  unset: z.array(z.string()).default([]),
});
export type BillingConfigPatch = z.infer<typeof BillingConfigPatchSchema>;

const TOP_KEYS = Object.keys(BillingConfigSchema.shape);

function unknownKey(key: string): FleetError {
  return new FleetError('INVALID_ARGUMENT', `unknown billing key ${key}: one of ${TOP_KEYS.join(', ')}`, {
    issues: [{ path: `billing.${key}`, message: 'unknown key' }],
  });
}

/** Leaves of a config as dotted keys, for naming what changed. */
function leaves(value: unknown, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) {
      for (const [lk, lv] of leaves(v, prefix ? `${prefix}.${k}` : k)) out.set(lk, lv);
    }
  } else out.set(prefix, JSON.stringify(value));
  return out;
}

/**
 * Applies a patch to the stored `config/billing` document (overrides only; defaults
 * fill the rest). Prices are set leaf by leaf over the effective table, so
 * `prices.standard.cpuHour=0.05` keeps every other price. The result must be a
 * valid config as a whole (400 naming `billing.<key>` otherwise).
 */
export function patchBillingConfig(
  stored: Record<string, unknown>,
  patch: BillingConfigPatch,
): { stored: Record<string, unknown>; config: BillingConfig; changedKeys: string[] } {
  const before = parseOrThrow(BillingConfigSchema, stored, 'stored config/billing', 'billing');
  const next: Record<string, unknown> = structuredClone(stored);
  for (const key of patch.unset) {
    if (!TOP_KEYS.includes(key)) throw unknownKey(key);
    delete next[key];
  }
  for (const [key, value] of Object.entries(patch.set)) {
    const [top, ...rest] = key.split('.');
    if (!top || !TOP_KEYS.includes(top)) throw unknownKey(key);
    if (rest.length === 0) {
      next[top] = value;
      continue;
    }
    // A nested key edits the effective object (defaults included), stored whole.
    const current: unknown = next[top] ?? before[top as keyof BillingConfig];
    if (current === null || typeof current !== 'object') throw unknownKey(key);
    const base = structuredClone(current) as Record<string, unknown>;
    let node: Record<string, unknown> = base;
    for (const part of rest.slice(0, -1)) {
      const child = node[part];
      if (child === null || typeof child !== 'object') throw unknownKey(key);
      node = child as Record<string, unknown>;
    }
    const leaf = rest.at(-1)!;
    if (!(leaf in node)) throw unknownKey(key);
    node[leaf] = value;
    next[top] = base;
  }
  const config = parseOrThrow(BillingConfigSchema, next, 'billing config', 'billing');
  const a = leaves(before);
  const b = leaves(config);
  const changedKeys = [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k)).sort();
  return { stored: next, config, changedKeys };
}
