import { execFileSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { spawnManaged, waitForHttp, type ManagedProcess } from './process-group';

export interface EmulatorLaunchers {
  sdkRoot: string;
  firestore: string;
  pubsub: string;
}

export class PrerequisiteError extends Error {
  override name = 'PrerequisiteError';
}

export function which(cmd: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Finds the Google Cloud SDK's emulator launchers under its `platform/` folder. */
export function findLaunchers(env: NodeJS.ProcessEnv = process.env): EmulatorLaunchers {
  const candidates = [
    env.CLOUDSDK_ROOT_DIR,
    env.CLOUDSDK_ROOT,
    (() => {
      const g = which('gcloud');
      return g ? dirname(dirname(realpathSync(g))) : undefined;
    })(),
    '/usr/lib/google-cloud-sdk',
    '/usr/share/google-cloud-sdk',
    '/opt/google-cloud-sdk',
    env.HOME ? join(env.HOME, 'google-cloud-sdk') : undefined,
  ].filter((c): c is string => Boolean(c));
  for (const root of candidates) {
    const firestore = join(root, 'platform/cloud-firestore-emulator/cloud_firestore_emulator');
    const pubsub = join(root, 'platform/pubsub-emulator/bin/cloud-pubsub-emulator');
    if (existsSync(firestore) && existsSync(pubsub)) return { sdkRoot: root, firestore, pubsub };
  }
  throw new PrerequisiteError(
    'The Google Cloud SDK emulators were not found. Install the Google Cloud CLI with its ' +
      '"cloud-firestore-emulator" and "pubsub-emulator" components ' +
      '(gcloud components install cloud-firestore-emulator pubsub-emulator, or the Debian packages ' +
      'google-cloud-cli-firestore-emulator and google-cloud-cli-pubsub-emulator), or set CLOUDSDK_ROOT_DIR. ' +
      `Looked in: ${candidates.join(', ')}`,
  );
}

/** Java 11+ runs both emulators. */
export function checkJava(): void {
  if (!which('java')) {
    throw new PrerequisiteError(
      'Java is not on PATH; the emulators need Java 11 or newer (Debian: apt-get install openjdk-17-jre-headless).',
    );
  }
}

export interface RunningEmulators {
  firestoreHost: string;
  pubsubHost: string;
  processes: ManagedProcess[];
  stop(): Promise<void>;
}

export interface StartEmulatorsOptions {
  host?: string;
  firestorePort: number;
  pubsubPort: number;
  /** Folder for the emulators' output. */
  logDir: string;
  timeoutMs?: number;
}

/** Starts the real Firestore and Pub/Sub emulators and waits until both answer. */
export async function startEmulators(opts: StartEmulatorsOptions): Promise<RunningEmulators> {
  checkJava();
  const l = findLaunchers();
  const host = opts.host ?? '127.0.0.1';
  const firestore = spawnManaged({
    name: 'firestore-emulator',
    command: l.firestore,
    args: ['start', `--host=${host}`, `--port=${opts.firestorePort}`],
    logFile: join(opts.logDir, 'firestore-emulator.log'),
  });
  const pubsub = spawnManaged({
    name: 'pubsub-emulator',
    command: l.pubsub,
    args: [`--host=${host}`, `--port=${opts.pubsubPort}`],
    logFile: join(opts.logDir, 'pubsub-emulator.log'),
  });
  const processes = [firestore, pubsub];
  const stop = async () => {
    await Promise.all(processes.map((p) => p.stop()));
  };
  try {
    const timeout = opts.timeoutMs ?? 60_000;
    await Promise.all([
      waitForHttp(`http://${host}:${opts.firestorePort}/`, timeout, { died: firestore.exited }),
      waitForHttp(`http://${host}:${opts.pubsubPort}/`, timeout, { died: pubsub.exited }),
    ]);
  } catch (err) {
    await stop();
    throw new Error(`emulators failed to start (logs in ${opts.logDir}): ${(err as Error).message}`);
  }
  return {
    firestoreHost: `${host}:${opts.firestorePort}`,
    pubsubHost: `${host}:${opts.pubsubPort}`,
    processes,
    stop,
  };
}
