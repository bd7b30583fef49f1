import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startEmulators, startRedis, type RunningEmulators, type RunningRedis } from '@fleetforge/emulators';

declare global {
  var __FF_EMULATORS__: RunningEmulators | undefined;
  var __FF_REDIS__: RunningRedis | undefined;
}

/**
 * Starts the real Firestore and Pub/Sub emulators, and Redis (the session checkpoint),
 * once for the `int` project.
 * Workers inherit the *_EMULATOR_HOST variables; each test file isolates itself
 * with its own project id.
 */
export default async function globalSetup(): Promise<void> {
  const logDir = mkdtempSync(join(tmpdir(), 'ff-int-'));
  const emulators = await startEmulators({ firestorePort: await freePort(), pubsubPort: await freePort(), logDir });
  process.env.FIRESTORE_EMULATOR_HOST = emulators.firestoreHost;
  process.env.PUBSUB_EMULATOR_HOST = emulators.pubsubHost;
  process.env.METADATA_SERVER_DETECTION = 'none';
  globalThis.__FF_EMULATORS__ = emulators;
  const redis = await startRedis({ port: await freePort(), dir: join(logDir, 'redis') });
  process.env.FF_TEST_REDIS_URL = redis.url;
  globalThis.__FF_REDIS__ = redis;
}
