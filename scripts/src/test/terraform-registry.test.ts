/**
 * terraform/ takes every registry name from var.registry, which
 * terraform/registry.auto.tfvars.json sets; scripts/src/gen/documents.test.ts keeps
 * that file equal to shared/src/topology.ts and firestore.indexes.json. Here the .tf
 * files are only read as text (they use `#` comments only).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { FUNCTIONS, SCHEDULER_JOBS, SUBSCRIPTIONS, TOPICS } from '@fleetforge/shared';
import { repoRoot } from '../gen/documents';

const tfDir = join(repoRoot, 'terraform');
const tf = readdirSync(tfDir)
  .filter((f) => f.endsWith('.tf'))
  .map((f) => readFileSync(join(tfDir, f), 'utf8').replace(/#.*$/gm, ''))
  .join('\n');

describe('terraform/ deploys var.registry', () => {
  it('spells out no topic, subscription, function or job name', () => {
    const names = [
      ...Object.values(TOPICS),
      ...SUBSCRIPTIONS.map((s) => s.name),
      ...Object.values(FUNCTIONS).map((f) => f.name),
      ...SCHEDULER_JOBS.map((j) => j.name),
    ];
    // String literals, less block labels such as resource "type" "api".
    const literals = [...tf.replace(/^\s*\w+(\s+"[^"]*")+\s*\{/gm, '').matchAll(/"((?:[^"\\]|\\.)*)"/g)].map(
      (m) => m[1]!,
    );
    // Plain words such as api only as a whole literal, so that prose may use them.
    const named = (literal: string) => names.some((n) => literal === n || (/[-A-Z]/.test(n) && literal.includes(n)));
    expect(literals.filter(named)).toEqual([]);
  });

  it.each([
    ['google_pubsub_topic', /var\.registry\.topics\b/],
    ['google_pubsub_subscription', /var\.registry\.subscriptions\b.*"pull"/],
    ['google_cloudfunctions2_function', /var\.registry\.functions\b.*"cloudevent"/],
    ['google_cloud_scheduler_job', /var\.registry\.scheduler_jobs\b/],
    ['google_firestore_index', /var\.registry\.firestore_indexes\b/],
  ])('declares %s with for_each = %s', (type, over) => {
    // The for_each expression: from the block's first line to the next blank line.
    const forEach = new RegExp(`^resource "${type}" "\\w+" \\{\\n\\s*for_each = ((?:.+\\n)+)`, 'gm');
    expect([...tf.matchAll(forEach)].some((m) => over.test(m[1]!.replace(/\s+/g, ' ')))).toBe(true);
  });

  it.each(Object.keys(FUNCTIONS).filter((key) => FUNCTIONS[key as keyof typeof FUNCTIONS].signature === 'http'))(
    'declares the HTTP function %s by its own resource',
    (key) => {
      expect(tf).toMatch(new RegExp(`^\\s*name\\s*= var\\.registry\\.functions\\.${key}\\.name$`, 'm'));
    },
  );
});
