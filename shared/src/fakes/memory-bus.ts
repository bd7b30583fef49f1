import { FleetError } from '../errors';
import type { Bus, BusMessage, MessageHandler, SubscriptionHandle } from '../ports';
import { SUBSCRIPTIONS, TOPICS, type SubscriptionDef, type TopicName } from '../topology';

interface Pending {
  message: BusMessage;
  attempts: number;
}

interface SubState {
  def: SubscriptionDef;
  queue: Pending[];
  handler?: MessageHandler;
  inFlight: number;
}

/**
 * In-memory Bus for unit tests, with Pub/Sub's delivery semantics where they
 * matter: at-least-once, a throwing handler gets the message again, and after
 * `maxDeliveryAttempts` it goes to the dead-letter topic.
 */
export class MemoryBus implements Bus {
  private readonly subs = new Map<string, SubState>();
  private seq = 0;
  readonly published: Array<{ topic: TopicName; message: BusMessage }> = [];
  private closed = false;

  constructor(subscriptions: readonly SubscriptionDef[] = SUBSCRIPTIONS) {
    for (const def of subscriptions) this.subs.set(def.name, { def, queue: [], inFlight: 0 });
  }

  async publish(topic: TopicName, data: unknown, attributes: Record<string, string> = {}): Promise<string> {
    if (this.closed) throw new FleetError('UNAVAILABLE', 'bus closed');
    const id = String(++this.seq);
    // Round-trip through JSON, as the wire does: no shared references, no Dates.
    const message: BusMessage = {
      id,
      data: JSON.parse(JSON.stringify(data)) as unknown,
      attributes: { ...attributes },
      publishTime: new Date().toISOString(),
    };
    this.published.push({ topic, message });
    for (const sub of this.subs.values()) {
      if (sub.def.topic === topic) {
        sub.queue.push({ message, attempts: 0 });
        this.pump(sub);
      }
    }
    return id;
  }

  subscribe(subscription: string, handler: MessageHandler): SubscriptionHandle {
    const sub = this.subs.get(subscription);
    if (!sub) throw new FleetError('NOT_FOUND', `no subscription ${subscription}`);
    sub.handler = handler;
    this.pump(sub);
    return {
      close: async () => {
        if (sub.handler === handler) delete sub.handler;
      },
    };
  }

  private pump(sub: SubState): void {
    const handler = sub.handler;
    if (!handler) return;
    while (sub.queue.length > 0) {
      const item = sub.queue.shift()!;
      item.attempts++;
      sub.inFlight++;
      // Deliver on a later tick, as a network would.
      setTimeout(() => {
        handler(item.message)
          .catch(async () => {
            if (item.attempts >= sub.def.maxDeliveryAttempts) {
              await this.publish(TOPICS.deadLetter, item.message.data, {
                ...item.message.attributes,
                sourceSubscription: sub.def.name,
              });
            } else {
              sub.queue.push(item);
            }
          })
          .finally(() => {
            sub.inFlight--;
            this.pump(sub);
          });
      }, 0);
    }
  }

  /** Resolves when no subscription with a handler has queued or in-flight messages. */
  async idle(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const busy = [...this.subs.values()].some((s) => s.handler && (s.queue.length > 0 || s.inFlight > 0));
      if (!busy) return;
      if (Date.now() > deadline) throw new FleetError('DEADLINE_EXCEEDED', 'bus did not go idle');
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  /** Messages published to a topic so far (payloads only). */
  payloads(topic: TopicName): unknown[] {
    return this.published.filter((p) => p.topic === topic).map((p) => p.message.data);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const sub of this.subs.values()) delete sub.handler;
  }
}
