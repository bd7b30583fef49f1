import { z } from 'zod';
import { NameSchema } from '../world/world';

/** The PRD's roles (§3.3), plus `admin` for the stack's bootstrap token. */
export const RoleSchema = z.enum(['observer', 'developer', 'operator', 'tenant-admin', 'billing', 'admin']);
export type Role = z.infer<typeof RoleSchema>;

export const PERMISSIONS = {
  'worlds:read': ['observer', 'developer', 'operator', 'admin'],
  'worlds:write': ['developer', 'operator', 'admin'],
  'events:read': ['observer', 'developer', 'operator', 'admin'],
  'cells:override': ['operator', 'admin'],
  'tokens:manage': ['admin'],
  'audit:read': ['operator', 'admin', 'billing'],
  /** tenant-admin tokens are further limited to their own tenant. */
  'tenants:read': ['observer', 'operator', 'admin', 'billing', 'tenant-admin'],
  'tenants:write': ['operator', 'admin'],
  /**
   * Taking a standard tenant's vcluster kubeconfig (its admin credential, handed out once):
   * the tenant's own admin (tenant-admin tokens only for their own tenant) and the platform
   * staff who manage tenants; never the read-only roles.
   */
  'tenants:kubeconfig': ['tenant-admin', 'operator', 'admin'],
  /** Usage reports; tenant-admin tokens only for their own tenant. */
  'billing:read': ['billing', 'admin', 'tenant-admin'],
  /** Export lineage and the audit: every tenant's data, so not for tenant admins. */
  'billing:exports': ['billing', 'admin'],
  /** Prices, billing period, export interval and label cap (`config/billing`): finance and admins. */
  'billing:config': ['billing', 'admin'],
  /** Closing and exporting a window by hand. */
  'billing:export': ['operator', 'admin'],
} as const satisfies Record<string, readonly Role[]>;
export type Permission = keyof typeof PERMISSIONS;

export function allows(role: Role, permission: Permission): boolean {
  return (PERMISSIONS[permission] as readonly Role[]).includes(role);
}

/** `tokens/{sha256(token)}`: the token itself is never stored. */
export const TokenDocSchema = z.strictObject({
  name: NameSchema,
  role: RoleSchema,
  tenant: NameSchema.nullable().default(null),
  createdAt: z.string(),
  createdBy: z.string(),
  /** ISO time after which the token is refused; null: never (the local stack's bootstrap token). */
  expiresAt: z.string().nullable().default(null),
  revokedAt: z.string().nullable().default(null),
  revokedBy: z.string().nullable().default(null),
});
export type TokenDoc = z.infer<typeof TokenDocSchema>;

/** A token created through the API lives this long unless the request says otherwise. */
export const DEFAULT_TOKEN_TTL_SECONDS = 30 * 24 * 3600;
export const MAX_TOKEN_TTL_SECONDS = 366 * 24 * 3600;

/**
 * A token's public id: the first 16 hex digits of its SHA-256 (the document key).
 * Safe to show and log; it names the token for `ffctl token revoke` without revealing it.
 */
export function tokenId(hash: string): string {
  return hash.slice(0, 16);
}

export type TokenStatus = 'active' | 'expired' | 'revoked';

/** Pure: whether a token document still authenticates at `now`. */
export function tokenStatus(doc: Pick<TokenDoc, 'expiresAt' | 'revokedAt'>, now: Date): TokenStatus {
  if (doc.revokedAt) return 'revoked';
  if (doc.expiresAt && Date.parse(doc.expiresAt) <= now.getTime()) return 'expired';
  return 'active';
}

export interface Principal {
  /** `token:NAME` in audit entries and events. */
  id: string;
  name: string;
  role: Role;
  tenant: string | null;
}
