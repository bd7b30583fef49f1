import { z } from 'zod';
import {
  HandoffResultSchema,
  HistogramSchema,
  LoadSampleSchema,
  type CellClient,
  type CellSampleOut,
  type HandoffRequest,
  type HandoffResult,
} from '@fleetforge/shared';

import { WarmHealthSchema, type AssignRequest } from './cell/assign';

const SampleSchema = LoadSampleSchema.extend({ hist: HistogramSchema.optional() });

/** `GET /v1/info`: who answers on an endpoint (a restarted agent checks a pid was not reused). */
export const CellInfoSchema = z.object({
  world: z.string(),
  cell: z.string(),
  incarnation: z.number(),
  pid: z.number(),
});
export type CellInfo = z.infer<typeof CellInfoSchema>;

/** The cell HTTP API as the agent uses it, for every driver (local processes and Pods alike). */
export class HttpCellClient implements CellClient {
  constructor(private readonly opts: { sampleTimeoutMs?: number; handoffTimeoutMs?: number } = {}) {}

  async sample(endpoint: string): Promise<CellSampleOut> {
    const res = await fetch(`${endpoint}/v1/sample`, {
      signal: AbortSignal.timeout(this.opts.sampleTimeoutMs ?? 5000),
    });
    if (!res.ok) throw new Error(`sample from ${endpoint}: HTTP ${res.status}`);
    return SampleSchema.parse(await res.json());
  }

  /** Liveness (`/healthz`): false on any failure or timeout. */
  healthy(endpoint: string, timeoutMs: number): Promise<boolean> {
    return probe(`${endpoint}/healthz`, timeoutMs);
  }

  /** Readiness (`/readyz`), as a kubelet probes it: false on any failure or timeout. */
  ready(endpoint: string, timeoutMs: number): Promise<boolean> {
    return probe(`${endpoint}/readyz`, timeoutMs);
  }

  /** The cell's identity, or undefined when nothing (or not a cell) answers. */
  async info(endpoint: string, timeoutMs = 2000): Promise<CellInfo | undefined> {
    try {
      const res = await fetch(`${endpoint}/v1/info`, { signal: AbortSignal.timeout(timeoutMs) });
      if (!res.ok) return undefined;
      const parsed = CellInfoSchema.safeParse(await res.json());
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * `POST /v1/assign` to a warm cell: it becomes the cell `env` describes. Throws unless
   * it accepted (a cell already assigned answers 409; a bad environment 400).
   */
  async assign(endpoint: string, env: Record<string, string>, timeoutMs = 5000): Promise<void> {
    const body: AssignRequest = { env };
    const res = await fetch(`${endpoint}/v1/assign`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    if (res.status !== 202) throw new Error(`assignment to ${endpoint} refused: HTTP ${res.status} ${text}`);
  }

  /** The pid of the idle warm cell answering at `endpoint`, or undefined (nothing, or not a warm cell). */
  async warmPid(endpoint: string, timeoutMs = 2000): Promise<number | undefined> {
    try {
      const res = await fetch(`${endpoint}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
      const parsed = WarmHealthSchema.safeParse(await res.json());
      return parsed.success ? parsed.data.pid : undefined;
    } catch {
      return undefined;
    }
  }

  async handoff(endpoint: string, request: HandoffRequest): Promise<HandoffResult> {
    const res = await fetch(`${endpoint}/v1/handoff`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(request),
      signal: AbortSignal.timeout(this.opts.handoffTimeoutMs ?? 30_000),
    });
    if (!res.ok) throw new Error(`hand-off by ${endpoint} failed: HTTP ${res.status} ${await res.text()}`);
    return HandoffResultSchema.parse(await res.json());
  }
}

async function probe(url: string, timeoutMs: number): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}
