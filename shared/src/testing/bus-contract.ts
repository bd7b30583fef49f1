import type { Bus, BusMessage } from '../ports/interfaces';
import type { SubscriptionDef } from '../ports/topology';
import { waitUntil } from '../core/timing';

/** Two pull subscriptions on one topic, so fan-out is part of the contract. */
export const CONTRACT_SUBSCRIPTIONS: SubscriptionDef[] = [
  {
    name: 'contract-a',
    topic: 'world-reconcile',
    delivery: { kind: 'pull', consumer: 'operator' },
    ackDeadlineSeconds: 10,
    maxDeliveryAttempts: 5,
    ordered: false,
  },
  {
    name: 'contract-b',
    topic: 'world-reconcile',
    delivery: { kind: 'pull', consumer: 'operator' },
    ackDeadlineSeconds: 10,
    maxDeliveryAttempts: 5,
    ordered: false,
  },
];

const waitFor = (cond: () => boolean, timeoutMs: number) =>
  waitUntil('the bus to deliver', cond, { timeoutMs, intervalMs: 10 });

/**
 * The Bus contract: at-least-once delivery of JSON payloads with attributes,
 * redelivery after a failed handler, fan-out to every subscription of a topic.
 * `makeBus` gets CONTRACT_SUBSCRIPTIONS and must return a bus where they exist.
 */
export function busContract(
  name: string,
  makeBus: (subs: SubscriptionDef[]) => Promise<Bus>,
  timeoutMs = 15_000,
): void {
  describe(`Bus contract: ${name}`, () => {
    let bus: Bus;
    beforeEach(async () => {
      bus = await makeBus(CONTRACT_SUBSCRIPTIONS);
    });
    afterEach(async () => {
      await bus.close();
    });

    it('delivers the published JSON payload and attributes', async () => {
      const got: BusMessage[] = [];
      const sub = bus.subscribe('contract-a', async (m) => void got.push(m));
      const id = await bus.publish('world-reconcile', { world: 'w', n: 1, nested: { ok: true } }, { world: 'w' });
      await waitFor(() => got.length >= 1, timeoutMs);
      expect(typeof id).toBe('string');
      expect(got[0]!.data).toEqual({ world: 'w', n: 1, nested: { ok: true } });
      expect(got[0]!.attributes).toMatchObject({ world: 'w' });
      expect(got[0]!.id).toBe(id);
      await sub.close();
    });

    it('delivers again after the handler throws', async () => {
      let attempts = 0;
      const sub = bus.subscribe('contract-a', async () => {
        attempts++;
        if (attempts === 1) throw new Error('transient');
      });
      await bus.publish('world-reconcile', { world: 'w' });
      await waitFor(() => attempts >= 2, timeoutMs);
      expect(attempts).toBeGreaterThanOrEqual(2);
      await sub.close();
    });

    it('gives every subscription of a topic its own copy', async () => {
      const a: unknown[] = [];
      const b: unknown[] = [];
      const sa = bus.subscribe('contract-a', async (m) => void a.push(m.data));
      const sb = bus.subscribe('contract-b', async (m) => void b.push(m.data));
      await Promise.all([1, 2, 3].map((n) => bus.publish('world-reconcile', { n })));
      await waitFor(() => a.length >= 3 && b.length >= 3, timeoutMs);
      const ns = (xs: unknown[]) => [...new Set(xs.map((x) => (x as { n: number }).n))].sort();
      expect(ns(a)).toEqual([1, 2, 3]);
      expect(ns(b)).toEqual([1, 2, 3]);
      await Promise.all([sa.close(), sb.close()]);
    });
  });
}
