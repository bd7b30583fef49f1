import { busContract } from '../testing';
import { TOPICS, type SubscriptionDef } from '../ports/topology';
import { MemoryBus } from './memory-bus';

busContract('MemoryBus', async (subs) => new MemoryBus(subs), 2000);

describe('MemoryBus dead-lettering', () => {
  it('moves a message that keeps failing to the dead-letter topic after maxDeliveryAttempts', async () => {
    const subs: SubscriptionDef[] = [
      {
        name: 's',
        topic: TOPICS.worldReconcile,
        delivery: { kind: 'pull', consumer: 'operator' },
        ackDeadlineSeconds: 10,
        maxDeliveryAttempts: 3,
        ordered: false,
      },
    ];
    const bus = new MemoryBus(subs);
    let attempts = 0;
    bus.subscribe('s', async () => {
      attempts++;
      throw new Error('always');
    });
    await bus.publish(TOPICS.worldReconcile, { world: 'w' });
    await bus.idle();
    expect(attempts).toBe(3);
    expect(bus.payloads(TOPICS.deadLetter)).toEqual([{ world: 'w' }]);
  });
});
