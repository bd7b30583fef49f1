import { PubSub, type Message, type Topic } from '@google-cloud/pubsub';
import {
  FleetError,
  SUBSCRIPTIONS,
  TOPICS,
  type Bus,
  type BusMessage,
  type MessageHandler,
  type SubscriptionDef,
  type SubscriptionHandle,
  type TopicName,
} from '@fleetforge/shared';

function toBusMessage(m: Message): BusMessage {
  let data: unknown;
  try {
    data = JSON.parse(m.data.toString('utf8'));
  } catch {
    // Not JSON: hand the raw text on; the handler's schema rejects it as poison.
    data = m.data.toString('utf8');
  }
  return { id: m.id, data, attributes: { ...m.attributes }, publishTime: m.publishTime.toISOString() };
}

/**
 * Bus on Cloud Pub/Sub (and on the Pub/Sub emulator when PUBSUB_EMULATOR_HOST is
 * set). Publishing batches for at most 5 ms; subscribing is streaming pull.
 */
export class PubSubBus implements Bus {
  readonly client: PubSub;
  private readonly topics = new Map<string, Topic>();
  private readonly handles = new Set<SubscriptionHandle>();

  constructor(projectId: string, client?: PubSub) {
    this.client = client ?? new PubSub({ projectId });
  }

  private topic(name: TopicName): Topic {
    let t = this.topics.get(name);
    if (!t) {
      t = this.client.topic(name, { batching: { maxMessages: 100, maxMilliseconds: 5 } });
      this.topics.set(name, t);
    }
    return t;
  }

  async publish(topic: TopicName, data: unknown, attributes: Record<string, string> = {}): Promise<string> {
    try {
      return await this.topic(topic).publishMessage({ data: Buffer.from(JSON.stringify(data)), attributes });
    } catch (err) {
      throw new FleetError('UNAVAILABLE', `publish to ${topic} failed: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * Opens the publisher's connection with one cheap call per topic (GetTopic). The first
   * RPC of a process loads the gRPC stack and dials: 200–400 ms measured here, which would
   * otherwise land on the first command a function publishes (a split's first hand-off).
   * Never throws: a failed warm-up only means the first publish pays for it.
   */
  async warm(topics: readonly TopicName[]): Promise<void> {
    await Promise.all(
      topics.map((name) =>
        this.topic(name)
          .getMetadata()
          .catch(() => undefined),
      ),
    );
  }

  subscribe(subscription: string, handler: MessageHandler, onError?: (err: Error) => void): SubscriptionHandle {
    const sub = this.client.subscription(subscription, {
      flowControl: { maxMessages: 64, allowExcessMessages: false },
    });
    sub.on('message', (m: Message) => {
      handler(toBusMessage(m)).then(
        () => m.ack(),
        () => m.nack(),
      );
    });
    sub.on('error', (err: Error) => onError?.(err));
    const handle: SubscriptionHandle = {
      close: async () => {
        this.handles.delete(handle);
        sub.removeAllListeners('message');
        await sub.close();
      },
    };
    this.handles.add(handle);
    return handle;
  }

  async close(): Promise<void> {
    await Promise.all([...this.handles].map((h) => h.close()));
    await Promise.all([...this.topics.values()].map((t) => t.flush().catch(() => undefined)));
    await this.client.close();
  }
}

export interface TopologyOptions {
  /** Base URL of each push-triggered function (`http://127.0.0.1:8791`). */
  pushEndpoints: Partial<Record<string, string>>;
  subscriptions?: readonly SubscriptionDef[];
}

function alreadyExists(err: unknown): boolean {
  return (err as { code?: number }).code === 6;
}

/**
 * Creates every topic and subscription of the registry. Push endpoints carry the
 * topic path, which functions-framework needs to turn a raw push into a
 * CloudEvent; terraform/pubsub.tf declares the same push subscriptions on GCP.
 */
export async function ensureTopology(client: PubSub, projectId: string, opts: TopologyOptions): Promise<void> {
  for (const name of Object.values(TOPICS)) {
    await client.createTopic(name).catch((err: unknown) => {
      if (!alreadyExists(err)) throw err;
    });
  }
  const deadLetterTopic = `projects/${projectId}/topics/${TOPICS.deadLetter}`;
  for (const def of opts.subscriptions ?? SUBSCRIPTIONS) {
    let pushConfig: { pushEndpoint: string } | undefined;
    if (def.delivery.kind === 'push') {
      const base = opts.pushEndpoints[def.delivery.function];
      if (!base) throw new FleetError('INVALID_ARGUMENT', `no push endpoint for function ${def.delivery.function}`);
      pushConfig = { pushEndpoint: `${base}/projects/${projectId}/topics/${def.topic}` };
    }
    const options = {
      ackDeadlineSeconds: def.ackDeadlineSeconds,
      ...(pushConfig ? { pushConfig } : {}),
      ...(def.topic === TOPICS.deadLetter
        ? {}
        : { deadLetterPolicy: { deadLetterTopic, maxDeliveryAttempts: def.maxDeliveryAttempts } }),
      retryPolicy: { minimumBackoff: { seconds: 1 }, maximumBackoff: { seconds: 10 } },
    };
    await client
      .topic(def.topic)
      .createSubscription(def.name, options)
      .catch(async (err: unknown) => {
        if (!alreadyExists(err)) throw err;
        // An earlier run may have pointed it at other ports: re-point it.
        if (pushConfig) await client.subscription(def.name).modifyPushConfig(pushConfig);
      });
  }
}
