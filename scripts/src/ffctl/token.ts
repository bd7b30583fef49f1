import { type Command, InvalidArgumentError } from 'commander';
import { color } from './colors';
import { z } from 'zod';
import {
  MAX_TOKEN_TTL_SECONDS,
  RoleSchema,
  TokenCreateResponseSchema,
  TokenListSchema,
  type TokenView,
} from '@fleetforge/shared';
import type { ApiClient } from './client';
import { emit, type OutputFormat } from './format';
import { kubectlTable, render } from './table';

const RevokeResponseSchema = z.object({ id: z.string(), name: z.string(), revokedAt: z.string() });

/** `90s`, `45m`, `12h`, `30d` → seconds (token lifetimes are whole seconds, at least a minute). */
export function parseTtl(text: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(text.trim());
  if (!m) throw new InvalidArgumentError(`--ttl: "${text}" is not a lifetime (like 90m, 12h, 30d)`);
  const seconds = Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as 's' | 'm' | 'h' | 'd'];
  if (seconds < 60 || seconds > MAX_TOKEN_TTL_SECONDS) {
    throw new InvalidArgumentError(`--ttl: ${text} is outside 60s .. 366d`);
  }
  return seconds;
}

function until(iso: string | null, now: number): string {
  if (!iso) return 'never';
  const s = Math.round((Date.parse(iso) - now) / 1000);
  const abs = Math.abs(s);
  const d =
    abs < 120
      ? `${abs}s`
      : abs < 7200
        ? `${Math.round(abs / 60)}m`
        : abs < 172_800
          ? `${Math.round(abs / 3600)}h`
          : `${Math.round(abs / 86_400)}d`;
  return s >= 0 ? `in ${d}` : `${d} ago`;
}

/** kubectl-style: one row per token, status coloured. */
export function tokensTable(items: TokenView[], now = Date.now()): string {
  const t = kubectlTable({ head: ['ID', 'NAME', 'ROLE', 'TENANT', 'STATUS', 'EXPIRES', 'CREATED BY'] });
  for (const i of items) {
    const status =
      i.status === 'active'
        ? color.green(i.status)
        : i.status === 'revoked'
          ? color.red(i.status)
          : color.dim(i.status);
    t.push([i.id, i.name, i.role, i.tenant ?? '-', status, until(i.expiresAt, now), i.createdBy]);
  }
  return render(t);
}

/** `ffctl token create|list|revoke` (admin). */
export function registerTokenCommands(
  program: Command,
  client: () => ApiClient,
  format: () => OutputFormat,
  io: { out: (t: string) => void },
): void {
  const token = program.command('token').description('API tokens (admin)');
  token
    .command('create <name>')
    .description('Create a token; it is printed once')
    .requiredOption('--role <role>', `one of ${RoleSchema.options.join(', ')}`)
    .option('--tenant <tenant>', 'tenant the token belongs to (tenant-admin)')
    .option('--ttl <lifetime>', 'how long it is valid: 90m, 12h, 30d (default 30d, at most 366d)', parseTtl)
    .action(async (name: string, o: { role: string; tenant?: string; ttl?: number }) => {
      const r = await client().request('POST', '/v1/tokens', TokenCreateResponseSchema, {
        name,
        role: o.role,
        ...(o.tenant ? { tenant: o.tenant } : {}),
        ...(o.ttl ? { ttlSeconds: o.ttl } : {}),
      });
      io.out(emit(format(), r, () => r.token));
    });
  token
    .command('list')
    .description('Every token: id, name, role, status (active, expired, revoked), expiry; never the secret')
    .action(async () => {
      const r = await client().request('GET', '/v1/tokens', TokenListSchema);
      io.out(emit(format(), r, () => tokensTable(r.items)));
    });
  token
    .command('revoke <id>')
    .description('Revoke a token by the id `token list` shows; the API refuses it within 2 s')
    .action(async (id: string) => {
      const r = await client().request('POST', `/v1/tokens/${encodeURIComponent(id)}:revoke`, RevokeResponseSchema);
      io.out(emit(format(), r, () => `token ${r.id} (${r.name}) revoked at ${r.revokedAt}`));
    });
}
