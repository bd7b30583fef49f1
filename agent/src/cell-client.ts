import {
  HandoffResultSchema,
  HistogramSchema,
  LoadSampleSchema,
  type CellClient,
  type CellSampleOut,
  type HandoffRequest,
  type HandoffResult,
} from '@fleetforge/shared';

const SampleSchema = LoadSampleSchema.extend({ hist: HistogramSchema.optional() });

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

  async healthy(endpoint: string, timeoutMs: number): Promise<boolean> {
    try {
      const res = await fetch(`${endpoint}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
      await res.arrayBuffer();
      return res.ok;
    } catch {
      return false;
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
