import { createHash, createHmac } from 'node:crypto';
import type { Digests } from '@fleetforge/shared';

/** The Digests port on node:crypto. */
export const nodeDigests: Digests = {
  sha256Hex: (data) => createHash('sha256').update(data).digest('hex'),
  hmacSha256Hex: (key, data) => createHmac('sha256', key).update(data).digest('hex'),
};
