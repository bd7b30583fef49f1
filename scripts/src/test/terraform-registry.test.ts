/**
 * terraform/ declares exactly what shared/src/topology.ts lists (and the Firestore
 * indexes of firestore.indexes.json). The .tf files are read as text: the checks
 * need no terraform binary and no provider.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { TOPICS, SUBSCRIPTIONS, FUNCTIONS, SCHEDULER_JOBS } from '@fleetforge/shared';

const repoRoot = resolve(__dirname, '..', '..', '..');
const tfDir = join(repoRoot, 'terraform');

/** Drops `#`, `//` and block comments outside strings, so commented-out code does not count. */
function stripComments(hcl: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < hcl.length; i++) {
    const c = hcl[i]!;
    if (inString) {
      out += c;
      if (c === '\\') out += hcl[++i] ?? '';
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c === '#' || (c === '/' && hcl[i + 1] === '/')) {
      while (i < hcl.length && hcl[i] !== '\n') i++;
      out += '\n';
    } else if (c === '/' && hcl[i + 1] === '*') {
      const end = hcl.indexOf('*/', i + 2);
      i = end < 0 ? hcl.length : end + 1;
    } else {
      out += c;
    }
  }
  return out;
}

const read = (file: string): string => stripComments(readFileSync(join(tfDir, file), 'utf8'));
const pubsubTf = read('pubsub.tf');
const allTf = readdirSync(tfDir)
  .filter((f) => f.endsWith('.tf'))
  .sort()
  .map(read)
  .join('\n');

/** The text between the `{` at `open` and its matching `}`. */
function braced(text: string, open: number): string {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) return text.slice(open + 1, i);
  }
  throw new Error(`unbalanced braces after: ${text.slice(open, open + 80)}`);
}

interface Resource {
  label: string;
  body: string;
}

function resources(text: string, type: string): Resource[] {
  const re = new RegExp(`^\\s*resource\\s+"${type}"\\s+"([\\w-]+)"\\s*\\{`, 'gm');
  return [...text.matchAll(re)].map((m) => ({ label: m[1]!, body: braced(text, m.index + m[0].length - 1) }));
}

/** Bodies of the nested blocks called `name` (e.g. `event_trigger { ... }`), at any depth. */
function blocks(body: string, name: string): string[] {
  const re = new RegExp(`^\\s*${name}\\s*\\{`, 'gm');
  return [...body.matchAll(re)].map((m) => braced(body, m.index + m[0].length - 1));
}

/** The block's own attributes, nested blocks and maps removed. */
function topLevel(body: string): string {
  let s = body;
  while (/\{[^{}]*\}/.test(s)) s = s.replace(/\{[^{}]*\}/g, '');
  return s;
}

/** Raw expression of attribute `key` in this body (not in its nested blocks). */
function attr(body: string, key: string): string | undefined {
  return new RegExp(`^\\s*${key}\\s*=\\s*(.+?)\\s*$`, 'm').exec(topLevel(body))?.[1];
}

/** Value of a literal string attribute; undefined when absent or computed. */
function literal(body: string, key: string): string | undefined {
  return /^"([^"$]*)"$/.exec(attr(body, key) ?? '')?.[1];
}

const named = (list: Resource[], name: string): Resource[] => list.filter((r) => literal(r.body, 'name') === name);
const sorted = (names: Iterable<string | undefined>): Array<string | undefined> => [...names].sort();

const topics = resources(pubsubTf, 'google_pubsub_topic');
const topicByLabel = new Map(topics.map((t) => [t.label, literal(t.body, 'name')]));
const pullSubscriptions = resources(allTf, 'google_pubsub_subscription');
const functions = resources(allTf, 'google_cloudfunctions2_function');
const jobs = resources(allTf, 'google_cloud_scheduler_job');

/** `"world-reconcile-push" = { ... }` entries of `locals { push_subscriptions = { ... } }`. */
const pushLocals = new Map<string, string>();
{
  const m = /^\s*push_subscriptions\s*=\s*\{/m.exec(allTf);
  if (m) {
    const map = braced(allTf, m.index + m[0].length - 1);
    for (const e of map.matchAll(/"([^"]+)"\s*=\s*\{([^{}]*)\}/g)) pushLocals.set(e[1]!, e[2]!);
  }
}

/** The topic name an expression such as `google_pubsub_topic.x.id` or `local.push_subscriptions["k"].topic` denotes. */
function topicOf(expr: string | undefined): string | undefined {
  if (!expr) return undefined;
  const ref = /^google_pubsub_topic\.(\w+)\.(?:id|name)$/.exec(expr);
  if (ref) return topicByLabel.get(ref[1]!);
  const local = /^local\.push_subscriptions\["([^"]+)"\]\.topic$/.exec(expr);
  if (local) return topicOf(attr(pushLocals.get(local[1]!) ?? '', 'topic'));
  return undefined;
}

const num = (expr: string | undefined): number | undefined => (expr === undefined ? undefined : Number(expr));

type PushSubscription = (typeof SUBSCRIPTIONS)[number] & { delivery: { kind: 'push' } };
type PullSubscription = (typeof SUBSCRIPTIONS)[number] & { delivery: { kind: 'pull' } };
const pushes = SUBSCRIPTIONS.filter((s): s is PushSubscription => s.delivery.kind === 'push');
const pulls = SUBSCRIPTIONS.filter((s): s is PullSubscription => s.delivery.kind === 'pull');

describe('terraform/ declares the registry (shared/src/topology.ts)', () => {
  describe('topics', () => {
    it('pubsub.tf declares exactly the registry topics, each by a literal name', () => {
      expect(sorted(topics.map((t) => literal(t.body, 'name')))).toEqual(sorted(Object.values(TOPICS)));
    });

    it.each(Object.values(TOPICS))('topic %s has one google_pubsub_topic', (name) => {
      expect(named(topics, name)).toHaveLength(1);
    });
  });

  describe('subscriptions', () => {
    it.each(SUBSCRIPTIONS)('$name appears as a literal', ({ name }) => {
      expect(allTf).toContain(`"${name}"`);
    });

    it('names no -push or -pull subscription the registry lacks', () => {
      const known = new Set(SUBSCRIPTIONS.map((s) => s.name));
      const found = [...allTf.matchAll(/"([\w.-]+-(?:push|pull))"/g)].map((m) => m[1]!);
      expect(found.filter((n) => !known.has(n))).toEqual([]);
    });

    it('declares google_pubsub_subscription resources for exactly the pull subscriptions', () => {
      expect(sorted(pullSubscriptions.map((s) => literal(s.body, 'name')))).toEqual(sorted(pulls.map((s) => s.name)));
    });

    it.each(pulls)('pull $name reads $topic with its ack deadline, dead-letter and retry policy', (sub) => {
      const [res, ...more] = named(pullSubscriptions, sub.name);
      expect(more).toEqual([]);
      const body = res!.body;
      expect(topicOf(attr(body, 'topic'))).toBe(sub.topic);
      expect(num(attr(body, 'ack_deadline_seconds'))).toBe(sub.ackDeadlineSeconds);
      const deadLetter = blocks(body, 'dead_letter_policy');
      if (sub.topic === TOPICS.deadLetter) {
        expect(deadLetter).toEqual([]);
      } else {
        expect(deadLetter).toHaveLength(1);
        expect(topicOf(attr(deadLetter[0]!, 'dead_letter_topic'))).toBe(TOPICS.deadLetter);
        expect(num(attr(deadLetter[0]!, 'max_delivery_attempts'))).toBe(sub.maxDeliveryAttempts);
      }
      const retry = blocks(body, 'retry_policy');
      expect(retry).toHaveLength(1);
      expect(literal(retry[0]!, 'minimum_backoff')).toBe('1s');
      expect(literal(retry[0]!, 'maximum_backoff')).toBe('10s');
    });

    it.each(pushes)('push $name is a push_subscriptions entry: $topic to $delivery.function', (sub) => {
      const entry = pushLocals.get(sub.name);
      expect(entry).toBeDefined();
      expect(topicOf(attr(entry!, 'topic'))).toBe(sub.topic);
      expect(literal(entry!, 'function')).toBe(sub.delivery.function);
      expect(num(attr(entry!, 'ack_deadline_seconds'))).toBe(sub.ackDeadlineSeconds);
      expect(num(attr(entry!, 'max_delivery_attempts'))).toBe(sub.maxDeliveryAttempts);
    });
  });

  describe('functions', () => {
    it('declares exactly the registry functions', () => {
      expect(sorted(functions.map((f) => literal(f.body, 'name')))).toEqual(
        sorted(Object.values(FUNCTIONS).map((f) => f.name)),
      );
    });

    it.each(Object.values(FUNCTIONS))('$name ($signature): entry point, runtime and trigger', (fn) => {
      const [res, ...more] = named(functions, fn.name);
      expect(more).toEqual([]);
      const build = blocks(res!.body, 'build_config');
      expect(build).toHaveLength(1);
      expect(literal(build[0]!, 'entry_point')).toBe(fn.name);
      expect(literal(build[0]!, 'runtime')).toBe('nodejs22');
      const triggers = blocks(res!.body, 'event_trigger');
      expect(triggers).toHaveLength(fn.signature === 'cloudevent' ? 1 : 0);
      if (fn.signature === 'cloudevent') {
        expect(literal(triggers[0]!, 'event_type')).toBe('google.cloud.pubsub.topic.v1.messagePublished');
        expect(literal(triggers[0]!, 'retry_policy')).toBe('RETRY_POLICY_RETRY');
      }
    });

    it.each(pushes)('$delivery.function is triggered from $topic, the topic of $name', (sub) => {
      const [res] = named(functions, sub.delivery.function);
      const expr = attr(blocks(res!.body, 'event_trigger')[0] ?? '', 'pubsub_topic');
      expect(topicOf(expr)).toBe(sub.topic);
      const viaLocal = /^local\.push_subscriptions\["([^"]+)"\]/.exec(expr ?? '');
      if (viaLocal) expect(viaLocal[1]).toBe(sub.name);
    });
  });

  describe('scheduler jobs', () => {
    it('declares exactly the registry jobs', () => {
      expect(sorted(jobs.map((j) => literal(j.body, 'name')))).toEqual(sorted(SCHEDULER_JOBS.map((j) => j.name)));
    });

    it.each(SCHEDULER_JOBS)('$name runs "$schedule" against $target with an OIDC token', (job) => {
      const [res, ...more] = named(jobs, job.name);
      expect(more).toEqual([]);
      expect(literal(res!.body, 'schedule')).toBe(job.schedule);
      const http = blocks(res!.body, 'http_target');
      expect(http).toHaveLength(1);
      const target = /^google_cloudfunctions2_function\.(\w+)\./.exec(attr(http[0]!, 'uri') ?? '')?.[1];
      const fn = functions.find((f) => f.label === target);
      expect(fn && literal(fn.body, 'name')).toBe(job.target);
      expect(blocks(http[0]!, 'oidc_token')).toHaveLength(1);
    });
  });

  it('declares the composite indexes of firestore.indexes.json', () => {
    const file = JSON.parse(readFileSync(join(repoRoot, 'firestore.indexes.json'), 'utf8')) as {
      indexes: Array<{
        collectionGroup: string;
        queryScope: string;
        fields: Array<{ fieldPath: string; order?: string; arrayConfig?: string }>;
      }>;
    };
    const fromJson = file.indexes.map((ix) =>
      [ix.collectionGroup, ix.queryScope, ...ix.fields.map((f) => `${f.fieldPath}:${f.order ?? f.arrayConfig}`)].join(
        ' ',
      ),
    );
    const fromTf = resources(allTf, 'google_firestore_index').map((ix) =>
      [
        literal(ix.body, 'collection'),
        literal(ix.body, 'query_scope') ?? 'COLLECTION',
        ...blocks(ix.body, 'fields').map(
          (f) => `${literal(f, 'field_path')}:${literal(f, 'order') ?? literal(f, 'array_config')}`,
        ),
      ].join(' '),
    );
    expect(fromTf.sort()).toEqual(fromJson.sort());
  });
});
