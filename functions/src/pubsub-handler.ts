import type { z } from 'zod';
import { TOPICS, isFleetError, parseOrThrow, toFleetError, type BusMessage } from '@fleetforge/shared';
import type { Deps } from './deps';

/** The CloudEvent data of a Pub/Sub trigger (google.cloud.pubsub.topic.v1.messagePublished). */
export interface PubSubEventData {
  message?: { data?: string; attributes?: Record<string, string>; messageId?: string; publishTime?: string };
  subscription?: string;
}

/** Decodes the base64 JSON payload of a Pub/Sub trigger event. */
export function decodePubSubEvent(data: PubSubEventData | undefined): BusMessage {
  const m = data?.message ?? {};
  const text = Buffer.from(m.data ?? '', 'base64').toString('utf8');
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Left as text: the schema rejects it as poison with a clear reason.
  }
  return {
    id: m.messageId ?? 'unknown',
    data: parsed,
    attributes: m.attributes ?? {},
    publishTime: m.publishTime ?? new Date().toISOString(),
  };
}

export type Outcome = 'ok' | 'stale';

/**
 * Runs a message handler with the one policy for failures: invalid messages and
 * terminal errors are poison (logged with the reason, copied to the dead-letter
 * topic, acked); retryable errors throw, so Pub/Sub delivers again.
 */
export async function handleMessage<S extends z.ZodType>(
  deps: Deps,
  fn: string,
  schema: S,
  message: BusMessage,
  handler: (payload: z.output<S>, log: Deps['log']) => Promise<Outcome>,
): Promise<void> {
  const correlationId =
    (message.data as { correlationId?: unknown } | null)?.correlationId ?? message.attributes.correlationId ?? 'none';
  const log = deps.log.child({ fn, messageId: message.id, correlationId });
  try {
    const payload = parseOrThrow(schema, message.data, `message for ${fn}`);
    const outcome = await handler(payload, log);
    deps.metrics.inc('fleetforge_messages_total', { function: fn, outcome });
  } catch (err) {
    const e = toFleetError(err, 'UNAVAILABLE');
    if (e.retryable) {
      deps.metrics.inc('fleetforge_messages_total', { function: fn, outcome: 'retry' });
      log.warn({ code: e.code, err: e.message }, 'retryable failure; Pub/Sub will deliver again');
      throw e;
    }
    deps.metrics.inc('fleetforge_messages_total', { function: fn, outcome: 'poison' });
    log.error(
      { code: e.code, reason: e.message, issues: isFleetError(err) ? err.issues : undefined },
      'poison message dead-lettered',
    );
    await deps.bus
      .publish(TOPICS.deadLetter, message.data, {
        ...message.attributes,
        sourceFunction: fn,
        reason: e.message.slice(0, 1000),
      })
      .catch((pubErr: unknown) =>
        log.error({ err: String(pubErr) }, 'could not copy poison message to the dead-letter topic'),
      );
  }
}
