/**
 * terraform/ deploys the registry (shared/src/ports/topology.ts) and grants each identity
 * what the registry says it uses. The HCL is parsed and its expressions evaluated
 * against var.registry (./hcl.ts), so these checks see the instances Terraform
 * would plan, not the text.
 */
import { join } from 'node:path';
import { FUNCTIONS, METRICS, SCHEDULER_JOBS, SUBSCRIPTIONS, TOPICS, type SubscriptionDef } from '@fleetforge/shared';
import { generatedFiles, repoRoot } from '../gen/documents';
import { Ref, Terraform, type Instance } from './hcl';

interface TfRegistry {
  subscriptions: Array<{ delivery: Record<string, unknown> }>;
  firestore_indexes: Array<{ fields: Array<Record<string, unknown>> }>;
}
// The registry as `npm run gen` writes it (documents.test.ts keeps the file equal to
// this), with the nulls Terraform puts in for the optional attributes it leaves out.
const registry = (JSON.parse(generatedFiles()['terraform/registry.auto.tfvars.json']!) as { registry: TfRegistry })
  .registry;
for (const s of registry.subscriptions) s.delivery = { function: null, consumer: null, ...s.delivery };
for (const ix of registry.firestore_indexes) {
  ix.fields = ix.fields.map((f) => ({ order: null, array_config: null, ...f }));
}

let tf: Terraform;
const byType = new Map<string, Instance[]>();
const instances = (type: string) => byType.get(type)!;

beforeAll(async () => {
  tf = await Terraform.load(join(repoRoot, 'terraform'), { registry, project_id: 'demo-project' });
  for (const type of new Set(tf.resources().map((r) => r.split('.')[0]!))) byType.set(type, await tf.instances(type));
}, 60_000);

const ref = (v: unknown) => (v instanceof Ref ? v.toString() : v);
const first = (block: unknown) => (block as Array<Record<string, unknown>>)[0]!;
const topicId = (topic: string) => `google_pubsub_topic.this[${JSON.stringify(topic)}].id`;

/** The function resource instance deployed under a registry name. */
function functionInstance(name: string): Instance {
  const found = instances('google_cloudfunctions2_function').filter((f) => f.body.name === name);
  expect(found).toHaveLength(1);
  return found[0]!;
}

/** `roles` granted to `member` on the resource attribute `on` by resources of `type`. */
function grants(type: string, attr: string, member: string): Array<{ on: unknown; role: unknown }> {
  return instances(type)
    .filter((b) => ref(b.body.member) === member)
    .map((b) => ({ on: ref(b.body[attr]), role: b.body.role }));
}

const functionsMember = () => {
  const sa = ref(first(functionInstance(FUNCTIONS.api.name).body.service_config).service_account_email) as string;
  return sa.replace(/\.email$/, '.member');
};

describe('terraform/ deploys exactly the registry', () => {
  it('one topic per registry topic', () => {
    expect(instances('google_pubsub_topic').map((t) => t.body.name)).toEqual(
      expect.arrayContaining(Object.values(TOPICS)),
    );
    expect(instances('google_pubsub_topic')).toHaveLength(Object.values(TOPICS).length);
  });

  it('one subscription per registry subscription, with its topic, ack deadline and dead-letter policy', () => {
    const subs = instances('google_pubsub_subscription');
    expect(subs.map((s) => s.body.name).sort()).toEqual(SUBSCRIPTIONS.map((s) => s.name).sort());
    for (const def of SUBSCRIPTIONS) {
      const sub = subs.find((s) => s.body.name === def.name)!;
      expect(ref(sub.body.topic)).toBe(topicId(def.topic));
      expect(sub.body.ack_deadline_seconds).toBe(def.ackDeadlineSeconds);
      const dl = sub.body.dead_letter_policy as Array<Record<string, unknown>> | undefined;
      if (def.topic === TOPICS.deadLetter) expect(dl ?? []).toEqual([]);
      else
        expect(dl?.map((d) => ({ topic: ref(d.dead_letter_topic), attempts: d.max_delivery_attempts }))).toEqual([
          { topic: topicId(TOPICS.deadLetter), attempts: def.maxDeliveryAttempts },
        ]);
    }
  });

  it.each(SUBSCRIPTIONS.filter((s) => s.delivery.kind === 'push').map((s) => [s.name, s] as const))(
    'push subscription %s pushes to its function with the invoker token',
    (name, def: SubscriptionDef) => {
      const sub = instances('google_pubsub_subscription').find((s) => s.body.name === name)!;
      const fn = functionInstance((def.delivery as { function: string }).function);
      const push = first(sub.body.push_config);
      const uri = `${fn.address}.service_config.0.uri`;
      // functions-framework reads the topic from the path, as it does locally.
      expect(push.push_endpoint).toBe(`\${${uri}}/projects/demo-project/topics/${def.topic}`);
      expect(ref(first(push.oidc_token).audience)).toBe(uri);
      expect(ref(first(push.oidc_token).service_account_email)).toBe('google_service_account.invoker.email');
    },
  );

  it('one function per registry function, each with its own entry point', () => {
    const fns = instances('google_cloudfunctions2_function');
    expect(fns.map((f) => f.body.name).sort()).toEqual(
      Object.values(FUNCTIONS)
        .map((f) => f.name)
        .sort(),
    );
    for (const f of fns) expect(first(f.body.build_config).entry_point).toBe(f.body.name);
  });

  it('one scheduler job per registry job, calling its target', () => {
    const jobs = instances('google_cloud_scheduler_job');
    expect(jobs.map((j) => j.body.name).sort()).toEqual(SCHEDULER_JOBS.map((j) => j.name).sort());
    for (const def of SCHEDULER_JOBS) {
      const job = jobs.find((j) => j.body.name === def.name)!;
      expect(job.body.schedule).toBe(def.schedule);
      expect(ref(first(job.body.http_target).uri)).toBe(`${functionInstance(def.target).address}.service_config.0.uri`);
    }
  });

  it('spells out no registry name: every one comes from var.registry', async () => {
    const names = new Set<string>([
      ...Object.values(TOPICS),
      ...SUBSCRIPTIONS.map((s) => s.name),
      ...Object.values(FUNCTIONS).map((f) => f.name),
      ...SCHEDULER_JOBS.map((j) => j.name),
    ]);
    // With every registry name renamed, a name the .tf files spell out is one that is still there.
    const renamed = (v: unknown): unknown =>
      typeof v === 'string' && names.has(v)
        ? [...v].reverse().join('')
        : Array.isArray(v)
          ? v.map(renamed)
          : v && typeof v === 'object'
            ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, renamed(x)]))
            : v;
    const other = await Terraform.load(join(repoRoot, 'terraform'), {
      registry: renamed(registry),
      project_id: 'demo-project',
    });
    const seen: string[] = [];
    const walk = (v: unknown): void => {
      if (typeof v === 'string') {
        for (const n of names) if (v === n || (/[-A-Z]/.test(n) && v.includes(n))) seen.push(v);
      } else if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object' && !(v instanceof Ref)) Object.values(v).forEach(walk);
    };
    for (const type of new Set(other.resources().map((r) => r.split('.')[0]!))) {
      for (const i of await other.instances(type)) walk(i.body);
    }
    // The walk saw the renamed names, so it did look.
    expect(JSON.stringify(await other.instances('google_pubsub_topic'))).toContain('elicnocer-dlrow');
    expect(seen).toEqual([]);
  });
});

describe('terraform/ grants each identity what the registry says it uses', () => {
  it.each(Object.values(FUNCTIONS).map((f) => [f.name, f.publishes] as const))(
    '%s may publish to every topic it declares',
    (name, publishes) => {
      const member =
        `${ref(first(functionInstance(name).body.service_config).service_account_email) as string}`.replace(
          /\.email$/,
          '.member',
        );
      const topics = grants('google_pubsub_topic_iam_member', 'topic', member)
        .filter((g) => g.role === 'roles/pubsub.publisher')
        .map((g) => g.on);
      expect(topics).toEqual(expect.arrayContaining(publishes.map(topicId)));
    },
  );

  it('the functions may publish to no topic that no function declares', () => {
    const declared = new Set(Object.values(FUNCTIONS).flatMap((f) => f.publishes.map(topicId)));
    const granted = grants('google_pubsub_topic_iam_member', 'topic', functionsMember()).map((g) => g.on as string);
    expect(granted.filter((t) => !declared.has(t))).toEqual([]);
  });

  it.each(SUBSCRIPTIONS.filter((s) => s.delivery.kind === 'push').map((s) => [s.name, s] as const))(
    'the invoker may call the function %s pushes to, and Pub/Sub may mint its token',
    (_name, def: SubscriptionDef) => {
      const fn = functionInstance((def.delivery as { function: string }).function);
      const invoked = grants('google_cloud_run_v2_service_iam_member', 'name', 'google_service_account.invoker.member');
      expect(invoked).toContainEqual({ on: `${fn.address}.service_config.0.service`, role: 'roles/run.invoker' });
      const minters = instances('google_service_account_iam_member').filter(
        (b) =>
          ref(b.body.service_account_id) === 'google_service_account.invoker.name' &&
          b.body.role === 'roles/iam.serviceAccountTokenCreator',
      );
      expect(minters.map((m) => m.body.member)).toEqual([
        'serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com',
      ]);
    },
  );

  it.each(SUBSCRIPTIONS.filter((s) => s.delivery.kind === 'pull' && s.delivery.consumer !== 'operator'))(
    'the agent may pull $name',
    (def) => {
      const subs = grants(
        'google_pubsub_subscription_iam_member',
        'subscription',
        'google_service_account.agent.member',
      );
      expect(subs).toContainEqual({
        on: `google_pubsub_subscription.pull[${JSON.stringify(def.name)}].name`,
        role: 'roles/pubsub.subscriber',
      });
    },
  );

  it('Pub/Sub may dead-letter from every subscription that has a dead-letter policy', () => {
    const agent = 'serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com';
    const acks = instances('google_pubsub_subscription_iam_member')
      .filter((b) => b.body.member === agent && b.body.role === 'roles/pubsub.subscriber')
      .map((b) => ref(b.body.subscription));
    const withPolicy = instances('google_pubsub_subscription').filter(
      (s) => ((s.body.dead_letter_policy as unknown[] | undefined) ?? []).length > 0,
    );
    expect(withPolicy.length).toBe(SUBSCRIPTIONS.filter((s) => s.topic !== TOPICS.deadLetter).length);
    expect(acks.sort()).toEqual(withPolicy.map((s) => `${s.address}.name`).sort());
    expect(grants('google_pubsub_topic_iam_member', 'topic', agent)).toEqual([
      { on: topicId(TOPICS.deadLetter), role: 'roles/pubsub.publisher' },
    ]);
  });

  it('the agent gets no key: no service account key resource exists', () => {
    expect(tf.resources().filter((r) => r.startsWith('google_service_account_key.'))).toEqual([]);
    const wi = instances('google_service_account_iam_member').filter(
      (b) => b.body.role === 'roles/iam.workloadIdentityUser',
    );
    expect(wi.map((b) => [ref(b.body.service_account_id), b.body.member])).toEqual([
      [
        'google_service_account.agent.name',
        'serviceAccount:demo-project.svc.id.goog[fleetforge-system/fleetforge-agent]',
      ],
    ]);
  });
});

describe('terraform/monitoring.tf', () => {
  /** Every `filter` of a resource type's instances (the dashboard's are inside its JSON). */
  const filters = (type: string): string[] => {
    const out: string[] = [];
    const walk = (v: unknown, key = ''): void => {
      if (typeof v === 'string' && key === 'filter') out.push(v);
      else if (typeof v === 'string' && key === 'dashboard_json') walk(JSON.parse(v));
      else if (Array.isArray(v)) v.forEach((x) => walk(x));
      else if (v && typeof v === 'object' && !(v instanceof Ref)) for (const [k, x] of Object.entries(v)) walk(x, k);
    };
    for (const i of instances(type)) walk(i.body);
    return out;
  };

  it('alerts on stuck operations, the dead-letter backlog and the dedicated pool', () => {
    expect(
      instances('google_monitoring_alert_policy')
        .map((p) => p.address)
        .sort(),
    ).toEqual([
      'google_monitoring_alert_policy.dead_letter_backlog',
      'google_monitoring_alert_policy.dedicated_pool',
      'google_monitoring_alert_policy.stuck_operations',
    ]);
    const deadLetterSub = SUBSCRIPTIONS.find((s) => s.topic === TOPICS.deadLetter)!.name;
    expect(filters('google_monitoring_alert_policy')).toContain(
      'metric.type = "pubsub.googleapis.com/subscription/num_undelivered_messages" AND resource.type = "pubsub_subscription"' +
        ` AND resource.label.subscription_id = "\${google_pubsub_subscription.pull["${deadLetterSub}"].name}"`,
    );
  });

  it.each(['google_monitoring_alert_policy', 'google_monitoring_dashboard'])(
    '%s queries only metrics of the catalogue, under the per-instance resource they are written as',
    (type) => {
      const custom = filters(type).filter((f) => f.includes('custom.googleapis.com/'));
      expect(custom.length).toBeGreaterThan(2);
      const named = custom.map((f) => /metric\.type = "custom\.googleapis\.com\/fleetforge\/(\w+)"/.exec(f)?.[1]);
      expect(named.filter((n) => n === undefined || !(n in METRICS))).toEqual([]);
      expect(custom.filter((f) => !f.includes('resource.type = "generic_task"'))).toEqual([]);
    },
  );
});
