import type { PubSub } from '@google-cloud/pubsub';
import { TOPICS } from '@fleetforge/shared';
import { PubSubBus } from './pubsub-bus';

describe('PubSubBus.warm', () => {
  it('asks for each topic once, on the topics publish uses, and swallows a failure', async () => {
    const asked: string[] = [];
    let made = 0;
    const client = {
      topic: (name: string) => {
        const t = {
          name,
          getMetadata: async () => {
            asked.push(name);
            if (name === TOPICS.deadLetter) throw new Error('5 NOT_FOUND');
            return [{}];
          },
        };
        made += 1;
        return t;
      },
    } as unknown as PubSub;
    const bus = new PubSubBus('p', client);
    await expect(bus.warm([TOPICS.agentCommands, TOPICS.deadLetter])).resolves.toBeUndefined();
    expect(asked).toEqual([TOPICS.agentCommands, TOPICS.deadLetter]);
    // The warmed topic objects are kept (publish uses them), not made again.
    await bus.warm([TOPICS.agentCommands]);
    expect(made).toBe(2);
    expect(asked).toHaveLength(3);
  });
});
