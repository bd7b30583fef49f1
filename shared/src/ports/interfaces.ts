import type { Rect } from '../world/geometry';
import type { MetricName } from './metrics';
import type { HandoffRequest, HandoffResult } from '../elasticity/sessions';
import type { Tier } from '../tenancy/tenancy';
import type { TopicName } from './topology';
import type { WorldSpec } from '../world/world';

/* ---------- StateStore: documents, queries, transactions (Firestore) ---------- */

export type DocData = Record<string, unknown>;

export interface QueryFilter {
  field: string;
  op: '==' | '<' | '<=' | '>' | '>=';
  value: string | number | boolean | null;
}

export interface Query {
  where?: QueryFilter[];
  orderBy?: { field: string; direction?: 'asc' | 'desc' };
  limit?: number;
}

export interface DocSnapshot {
  /** Last path segment. */
  id: string;
  path: string;
  data: DocData;
}

/**
 * A read-then-write transaction. As in Firestore, every read comes before the
 * first write, and the function may run more than once under contention, so it
 * must not have side effects outside the transaction.
 */
export interface Transaction {
  get(path: string): Promise<DocData | undefined>;
  list(collection: string, query?: Query): Promise<DocSnapshot[]>;
  /** Fails the transaction with CONFLICT if the document exists. */
  create(path: string, data: DocData): void;
  set(path: string, data: DocData): void;
  /** Replaces the given top-level fields; fails with NOT_FOUND if the document is missing. */
  update(path: string, patch: DocData): void;
  delete(path: string): void;
}

/**
 * A document read with its version: an opaque token that changes on every write that
 * changes the document (a write of identical content may keep it).
 */
export interface VersionedDoc {
  data: DocData;
  version: string;
}

/**
 * One write of a batch. `ifVersion` makes an update or delete conditional: the batch
 * fails with ABORTED, writing nothing, unless the document is still at that version.
 */
/** The write half of a transaction: what code that only writes (to a transaction or a batch) needs. */
export type TransactionWrites = Pick<Transaction, 'create' | 'set' | 'update' | 'delete'>;

/** Collects writes for one `StateStore.batch` through the transaction's write methods. */
export function batchWriter(): { writes: TransactionWrites; ops: WriteOp[] } {
  const ops: WriteOp[] = [];
  return {
    ops,
    writes: {
      create: (path, data) => void ops.push({ op: 'create', path, data }),
      set: (path, data) => void ops.push({ op: 'set', path, data }),
      update: (path, patch) => void ops.push({ op: 'update', path, patch }),
      delete: (path) => void ops.push({ op: 'delete', path }),
    },
  };
}

export type WriteOp =
  | { op: 'create'; path: string; data: DocData }
  | { op: 'set'; path: string; data: DocData }
  | { op: 'update'; path: string; patch: DocData; ifVersion?: string }
  | { op: 'delete'; path: string; ifVersion?: string };

export interface StateStore {
  get(path: string): Promise<DocData | undefined>;
  /** A read with the version a conditional write (`ifVersion`) can name. */
  getVersioned(path: string): Promise<VersionedDoc | undefined>;
  list(collection: string, query?: Query): Promise<DocSnapshot[]>;
  create(path: string, data: DocData): Promise<void>;
  set(path: string, data: DocData): Promise<void>;
  update(path: string, patch: DocData): Promise<void>;
  delete(path: string): Promise<void>;
  /**
   * Applies the writes atomically, without a transaction's locks (at most 500). With
   * `ifVersion` on a write it is an optimistic commit: ABORTED (retryable, nothing
   * written) when that document changed since it was read; read again and retry.
   * A `create` of an existing document fails it with CONFLICT.
   */
  batch(ops: readonly WriteOp[]): Promise<void>;
  runTransaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/* ---------- Bus: publish and subscribe (Pub/Sub) ---------- */

export interface BusMessage {
  id: string;
  /** The parsed JSON payload; handlers validate it with zod. */
  data: unknown;
  attributes: Record<string, string>;
  publishTime: string;
}

/** Resolve to ack; throw to nack (the message is delivered again). */
export type MessageHandler = (message: BusMessage) => Promise<void>;

export interface SubscriptionHandle {
  close(): Promise<void>;
}

export interface Bus {
  publish(topic: TopicName, data: unknown, attributes?: Record<string, string>): Promise<string>;
  /** `onError` hears stream failures (the subscription keeps retrying); handler failures are nacks, not errors. */
  subscribe(subscription: string, handler: MessageHandler, onError?: (err: Error) => void): SubscriptionHandle;
  close(): Promise<void>;
}

/* ---------- BlobStore: export artifacts (Cloud Storage) ---------- */

export interface BlobInfo {
  key: string;
  size: number;
  contentType: string;
}

export interface BlobStore {
  put(key: string, body: Uint8Array | string, contentType: string): Promise<void>;
  /**
   * Create-only write (GCS `ifGenerationMatch: 0`): fails with ALREADY_EXISTS when
   * the key exists, whoever wins a race; an export is never rewritten in place.
   */
  create(key: string, body: Uint8Array | string, contentType: string): Promise<void>;
  get(key: string): Promise<Uint8Array | undefined>;
  list(prefix: string): Promise<BlobInfo[]>;
  delete(key: string): Promise<void>;
}

/* ---------- MetricsSink: counters, gauges, histograms (Cloud Monitoring / Prometheus) ---------- */

export type MetricLabels = Record<string, string>;

export interface MetricsSink {
  inc(name: MetricName, labels?: MetricLabels, by?: number): void;
  set(name: MetricName, value: number, labels?: MetricLabels): void;
  observe(name: MetricName, value: number, labels?: MetricLabels): void;
  /**
   * Writes buffered points out. Entry points call it before they answer: on Cloud
   * Functions the CPU is throttled once the response is sent. Sinks that write
   * synchronously or are scraped leave it out.
   */
  flush?(): Promise<void>;
}

/* ---------- Clock and ids ---------- */

export interface Clock {
  now(): Date;
}

export interface Ids {
  /** A new unique id; `prefix` makes logs readable (`op-…`, `corr-…`). */
  next(prefix?: string): string;
}

/* ---------- Driver: runs cells (Kubernetes pods or local processes) ---------- */

export interface CellRunSpec {
  world: string;
  cell: string;
  incarnation: number;
  boundary: Rect;
  capacity: WorldSpec['capacity'];
  epoch: number;
  neverReady: boolean;
  correlationId: string;
  /** The world's generation (see the start command); scopes durable session checkpoints. */
  generation?: string;
  /** Whom its usage is billed to (see the start command); null or absent: the agent's platform tenant. */
  tenant?: string | null;
  tier?: Tier | null;
}

export type DriverEvent =
  | { kind: 'started'; world: string; cell: string; incarnation: number; correlationId: string }
  | { kind: 'ready'; world: string; cell: string; incarnation: number; endpoint: string; correlationId: string }
  | {
      kind: 'exited';
      world: string;
      cell: string;
      incarnation: number;
      exitCode: number | null;
      /** True when the driver stopped it on request (a kill after failed probes is not a request). */
      requested: boolean;
      reason: string;
      correlationId: string;
    };

export interface CellRuntimeStatus {
  world: string;
  cell: string;
  incarnation: number;
  phase: 'starting' | 'ready' | 'stopping';
  endpoint: string | null;
  /** What it was started with (kept across agent restarts where the driver can); absent: the platform tenant. */
  tenant?: string | null;
  tier?: Tier | null;
  /** The world generation it was started for (null or absent: not known). */
  generation?: string | null;
}

/**
 * Runs cells. Level-based and idempotent: starting a cell that already runs with
 * the same incarnation re-announces it; stopping one that is gone is a no-op.
 * Cells outlive the driver: closing it (an agent restart, a rollout) leaves them
 * running, and the next driver adopts them.
 */
export interface Driver {
  readonly name: string;
  /**
   * Finds the cells an earlier agent process left running and takes them over
   * (announcing what it finds, and reporting as exited those that died meanwhile).
   * Resolves once `list()` is the whole truth. Idempotent.
   */
  adopt(): Promise<void>;
  start(spec: CellRunSpec): Promise<void>;
  stop(world: string, cell: string, reason: string): Promise<void>;
  /**
   * Forcibly stops one incarnation that failed its health probes. It is reported as
   * exited (not requested) only once it is confirmed gone, so a replacement never
   * runs beside it.
   */
  kill(world: string, cell: string, incarnation: number, reason: string): Promise<void>;
  list(): CellRuntimeStatus[];
  onEvent(listener: (event: DriverEvent) => void): void;
  /** Stops watching; the cells keep running. */
  close(): Promise<void>;
  /** Stops every cell this driver runs (tests; tearing a local stack down). */
  stopAll(reason: string): Promise<void>;
  /**
   * Keeps `n` idle, ready cells that a start takes instead of starting one (a warm pool).
   * Drivers without a pool leave it out, and every start is a cold one.
   */
  setWarmTarget?(n: number): void;
  /** Idle cells ready to be taken now. */
  warmCount?(): number;
}

/** A cell's load as it answers `GET /v1/sample`. */
export interface CellSampleOut {
  at: string;
  sessions: number;
  cpuMillis: number;
  memoryMiB: number;
  hist?: { x: number[]; y: number[] };
}

/** How the agent talks to a running cell, whichever driver runs it (HTTP in production). */
export interface CellClient {
  /** `GET /v1/sample`. */
  sample(endpoint: string): Promise<CellSampleOut>;
  /** `GET /healthz` answered 200 within the timeout. */
  healthy(endpoint: string, timeoutMs: number): Promise<boolean>;
  /** `POST /v1/handoff`: the cell moves every session to the target that owns its position. */
  handoff(endpoint: string, request: HandoffRequest): Promise<HandoffResult>;
}
