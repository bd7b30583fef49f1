import { FUNCTIONS, SUBSCRIPTIONS, TOPICS, pushSubscriptions, type Bus } from '@fleetforge/shared';
import { FUNCTION_TABLE, functionEntries, pubSubFunctions, type FunctionRuntime } from './function-table';
import { loadEnv } from './env';
import { memoryDeps, wireFunctions } from './testing';

describe('the function table', () => {
  it('has exactly the functions of the registry, each under its own name', () => {
    expect(Object.keys(FUNCTION_TABLE)).toEqual(Object.keys(FUNCTIONS));
    for (const [key, fn] of Object.entries(FUNCTION_TABLE)) {
      expect(fn.def).toBe(FUNCTIONS[key as keyof typeof FUNCTIONS]);
      expect(fn.name).toBe(key);
    }
  });

  it('gives each function the trigger its registry signature names (http, or a Pub/Sub CloudEvent)', () => {
    for (const fn of functionEntries()) {
      expect([fn.name, fn.trigger.kind]).toEqual([fn.name, fn.def.signature === 'http' ? 'http' : 'pubsub']);
    }
  });

  it('wires every push subscription of the registry to its function, and no other subscription', () => {
    const wired = pubSubFunctions().map((fn) => [fn.name, fn.trigger.subscription, fn.trigger.topic]);
    const registry = pushSubscriptions().map((s) => [s.delivery.function, s.name, s.topic]);
    expect(wired.sort()).toEqual(registry.sort());
    // Every other subscription is pulled by a long-running consumer (agent, operator), not a function.
    const rest = SUBSCRIPTIONS.filter((s) => !wired.some(([, sub]) => sub === s.name));
    expect(rest.every((s) => s.delivery.kind === 'pull')).toBe(true);
  });

  it('index.ts registers every function of the table with functions-framework, with its signature', () => {
    const registered: Array<[string, string]> = [];
    jest.isolateModules(() => {
      jest.doMock('@google-cloud/functions-framework', () => ({
        http: (name: string) => registered.push([name, 'http']),
        cloudEvent: (name: string) => registered.push([name, 'cloudevent']),
      }));
      // A fresh copy of index.ts, registering on the stand-in above (import() would share the cached one).
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require('./index');
    });
    jest.dontMock('@google-cloud/functions-framework');
    expect(registered).toEqual(Object.values(FUNCTIONS).map((f) => [f.name, f.signature]));
  });
});

describe('wireFunctions', () => {
  it('subscribes every Pub/Sub-triggered function on its push subscription, and nothing else', () => {
    const subscribed: string[] = [];
    const bus = { subscribe: (name: string) => (subscribed.push(name), { close: async () => undefined }) };
    wireFunctions(memoryDeps({ bus: bus as unknown as Bus }));
    expect(subscribed.sort()).toEqual(
      pushSubscriptions()
        .map((s) => s.name)
        .sort(),
    );
  });

  it('routes each trigger topic to its function with production’s failure policy (poison is dead-lettered)', async () => {
    const deps = memoryDeps();
    const wiring = wireFunctions(deps);
    for (const s of pushSubscriptions()) await deps.bus.publish(s.topic, { not: 'a message' }, { correlationId: 'c' });
    await deps.bus.idle();
    for (const s of pushSubscriptions()) {
      const fn = s.delivery.function;
      expect([fn, deps.metrics.value('fleetforge_messages_total', { function: fn, outcome: 'poison' })]).toEqual([
        fn,
        1,
      ]);
    }
    const dead = deps.bus.published.filter((p) => p.topic === TOPICS.deadLetter);
    expect(dead.map((p) => p.message.attributes.sourceFunction).sort()).toEqual(
      pushSubscriptions()
        .map((s) => s.delivery.function)
        .sort(),
    );
    await wiring.close();
  });

  it('delivers as the production CloudEvent entry point does', async () => {
    const deps = memoryDeps();
    const runtime: FunctionRuntime = {
      deps: () => deps,
      billing: () => {
        throw new Error('not used');
      },
      env: () => loadEnv({}),
    };
    const data = Buffer.from(JSON.stringify({ world: 'Not A Name!', reason: 'x' })).toString('base64');
    await FUNCTION_TABLE.reconcileWorld.onEvent(runtime)({
      specversion: '1.0',
      id: 'e1',
      source: 'pubsub',
      type: 'google.cloud.pubsub.topic.v1.messagePublished',
      data: { message: { data, messageId: 'm1', attributes: {} } },
    });
    expect(deps.metrics.value('fleetforge_messages_total', { function: 'reconcileWorld', outcome: 'poison' })).toBe(1);
    expect(deps.bus.payloads(TOPICS.deadLetter)).toEqual([{ world: 'Not A Name!', reason: 'x' }]);
  });
});
