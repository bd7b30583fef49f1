/** The agent process: `node agent/dist/main.js` (the local stack starts it; in a cluster it is a Deployment). */
import { createServer } from 'node:http';
import { hostname } from 'node:os';
import { z } from 'zod';
import { parseOrThrow } from '@fleetforge/shared';
import { PromMetricsSink, PubSubBus, createLogger } from '@fleetforge/functions/adapters';
import { Agent } from './agent';
import { ProcessDriver } from './drivers/process-driver';

const AgentEnvSchema = z.object({
  GOOGLE_CLOUD_PROJECT: z.string().min(1).default('fleetforge-local'),
  PUBSUB_EMULATOR_HOST: z.string().optional(),
  FF_AGENT_ID: z.string().min(1).default(`${hostname()}-${process.pid}`),
  FF_DRIVER: z.enum(['process']).default('process'),
  FF_AGENT_METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  FF_SAMPLE_MS: z.coerce.number().int().positive().default(1000),
  LOG_LEVEL: z.string().default('info'),
});

async function main(): Promise<void> {
  const env = parseOrThrow(AgentEnvSchema, process.env, 'agent environment');
  const log = createLogger('agent', env.LOG_LEVEL);
  const metrics = new PromMetricsSink(undefined, { defaultMetrics: true });
  const bus = new PubSubBus(env.GOOGLE_CLOUD_PROJECT);
  const driver = new ProcessDriver({ sampleMs: env.FF_SAMPLE_MS });
  const agent = new Agent({ agentId: env.FF_AGENT_ID, bus, driver, log, metrics, relayMs: env.FF_SAMPLE_MS });
  agent.start();

  if (env.FF_AGENT_METRICS_PORT !== undefined) {
    const server = createServer((req, res) => {
      if (req.url === '/healthz' || req.url === '/readyz') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
        return;
      }
      void metrics.text().then((t) => res.writeHead(200, { 'content-type': 'text/plain' }).end(t));
    });
    server.listen(env.FF_AGENT_METRICS_PORT, '127.0.0.1');
    server.unref();
  }

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'agent stopping; stopping its cells');
    void agent
      .stop()
      .then(() => bus.close())
      .finally(() => process.exit(0));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`${JSON.stringify({ severity: 'ERROR', component: 'agent', message: String(err) })}\n`);
  process.exit(1);
});
