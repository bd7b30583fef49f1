import { FleetError } from '../core/errors';
import type { Bus, BusMessage, MessageHandler, SubscriptionHandle } from '../ports/interfaces';
import { SUBSCRIPTIONS, TOPICS, type SubscriptionDef, type TopicName } from '../ports/topology';
import { sleep } from '../core/timing';

interface Pending {
  message: BusMessage;
  attempts: number;
  /** An extra copy chaos mode delivered; the original carries the at-least-once guarantee. */
  duplicate?: boolean;
}

/**
 * Opt-in misbehaviour, as an unordered Pub/Sub subscription may show it: every
 * delivery is delayed by 0..maxDelayMs and, with probability `duplicate`, delivered
 * twice. Decided by a PRNG seeded from `seed` and the subscription name, so each
 * subscription misbehaves independently and a failing seed can be replayed.
 */
export interface BusChaos {
  seed: number;
  /** Probability (0..1) that a delivery is duplicated. */
  duplicate: number;
  /** true: each delivery has its own random delay, so deliveries overtake each other. false: delayed in order. */
  reorder: boolean;
  maxDelayMs: number;
}

export interface MemoryBusOptions {
  chaos?: BusChaos;
}

interface SubState {
  def: SubscriptionDef;
  queue: Pending[];
  handler?: MessageHandler;
  /** Deliveries scheduled (including delayed ones) whose handler has not settled yet. */
  inFlight: number;
  /** Chaos only: this subscription's PRNG. */
  random?: () => number;
  /** Chaos without reorder: delayed deliveries, in publish order, and the latest due time. */
  ordered: Array<() => void>;
  lastDue: number;
}

/** mulberry32: a tiny seeded PRNG, uniform in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a, to derive one PRNG stream per subscription from the seed. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * In-memory Bus for unit tests, with Pub/Sub's delivery semantics where they
 * matter: at-least-once, a throwing handler gets the message again, and after
 * `maxDeliveryAttempts` it goes to the dead-letter topic. With `chaos`, deliveries
 * are also delayed, reordered and duplicated (see BusChaos).
 */
export class MemoryBus implements Bus {
  private readonly subs = new Map<string, SubState>();
  private seq = 0;
  readonly published: Array<{ topic: TopicName; message: BusMessage }> = [];
  private closed = false;
  private readonly chaos: BusChaos | undefined;

  constructor(options?: MemoryBusOptions);
  constructor(subscriptions?: readonly SubscriptionDef[], options?: MemoryBusOptions);
  constructor(first: readonly SubscriptionDef[] | MemoryBusOptions = SUBSCRIPTIONS, second: MemoryBusOptions = {}) {
    const subscriptions = Array.isArray(first) ? (first as readonly SubscriptionDef[]) : SUBSCRIPTIONS;
    const options = Array.isArray(first) ? second : (first as MemoryBusOptions);
    this.chaos = options.chaos;
    if (this.chaos) {
      const { duplicate, maxDelayMs } = this.chaos;
      if (!(duplicate >= 0 && duplicate <= 1))
        throw new RangeError(`chaos.duplicate must be in [0, 1], got ${duplicate}`);
      if (!(maxDelayMs >= 0)) throw new RangeError(`chaos.maxDelayMs must be >= 0, got ${maxDelayMs}`);
    }
    for (const def of subscriptions) {
      this.subs.set(def.name, {
        def,
        queue: [],
        inFlight: 0,
        ordered: [],
        lastDue: 0,
        ...(this.chaos ? { random: mulberry32(this.chaos.seed ^ hash(def.name)) } : {}),
      });
    }
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
      this.schedule(sub, handler, item);
      const random = sub.random;
      if (random && !item.duplicate && random() < this.chaos!.duplicate) {
        this.schedule(sub, handler, { message: item.message, attempts: item.attempts, duplicate: true });
      }
    }
  }

  /** Delivers one item later (on a later tick, as a network would; later still in chaos mode). */
  private schedule(sub: SubState, handler: MessageHandler, item: Pending): void {
    sub.inFlight++;
    const deliver = () => {
      handler(item.message)
        .catch(async () => {
          // A failed extra copy is dropped: the original is still delivered until it succeeds.
          if (item.duplicate) return;
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
    };
    const chaos = this.chaos;
    if (!chaos || !sub.random) {
      setTimeout(deliver, 0);
      return;
    }
    const delay = Math.floor(sub.random() * (chaos.maxDelayMs + 1));
    if (chaos.reorder) {
      setTimeout(deliver, delay);
      return;
    }
    // In order: due times never decrease, and each timer delivers the oldest waiting item.
    const now = Date.now();
    const due = Math.max(now + delay, sub.lastDue);
    sub.lastDue = due;
    sub.ordered.push(deliver);
    setTimeout(() => sub.ordered.shift()?.(), due - now);
  }

  /** Resolves when no subscription with a handler has queued, delayed or in-flight messages. */
  async idle(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // A turn of the event loop first: a publisher the caller just set off (a report batch
      // flushed on the next tick, say) has published by then.
      await sleep(0);
      const busy = [...this.subs.values()].some((s) => s.handler && (s.queue.length > 0 || s.inFlight > 0));
      if (!busy) return;
      if (Date.now() > deadline) throw new FleetError('DEADLINE_EXCEEDED', 'bus did not go idle');
      await sleep(2);
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
