import { PubSub } from '@google-cloud/pubsub';
import { busContract, testProjectId } from '@fleetforge/shared/testing';
import { TOPICS, pushSubscriptions } from '@fleetforge/shared';

import { PubSubBus, ensureTopology } from './pubsub-bus';

busContract('PubSubBus on the Pub/Sub emulator', async (subs) => {
  const project = testProjectId('ps');
  const client = new PubSub({ projectId: project });
  await ensureTopology(client, project, { pushEndpoints: {}, subscriptions: subs });
  return new PubSubBus(project, client);
});

describe('ensureTopology on the Pub/Sub emulator', () => {
  it('creates every registry topic and subscription, and is idempotent', async () => {
    const project = testProjectId('topo');
    const client = new PubSub({ projectId: project });
    // One endpoint per push subscription of the registry, so a new function needs no edit here.
    const endpoints: Record<string, string> = Object.fromEntries(
      pushSubscriptions().map((s, i) => [s.delivery.function, `http://127.0.0.1:${i + 1}`]),
    );
    await ensureTopology(client, project, { pushEndpoints: endpoints });
    await ensureTopology(client, project, { pushEndpoints: { ...endpoints, reconcileWorld: 'http://127.0.0.1:9' } });
    const [topics] = await client.getTopics();
    expect(topics.map((t) => t.name.split('/').pop()).sort()).toEqual(Object.values(TOPICS).sort());
    const [meta] = await client.subscription('world-reconcile-push').getMetadata();
    // Re-running re-points the push endpoint (a restarted stack may use other ports).
    expect(meta.pushConfig?.pushEndpoint).toBe(`http://127.0.0.1:9/projects/${project}/topics/world-reconcile`);
    expect(meta.deadLetterPolicy?.maxDeliveryAttempts).toBe(10);
    await client.close();
  });
});
