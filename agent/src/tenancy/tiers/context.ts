import {
  AppsV1Api,
  AuthorizationV1Api,
  CoreV1Api,
  KubernetesObjectApi,
  PatchStrategy,
  type KubeConfig,
} from '@kubernetes/client-node';
import {
  DEFAULT_AGENT_SUBJECT,
  agentTenantRoleBinding,
  sleep,
  type AgentSubject,
  type KubeObject,
} from '@fleetforge/shared';

export interface KubeTenantExecutorOptions {
  kubeconfig: KubeConfig;
  /** How often pool and usage are sampled. */
  sampleMs?: number;
  readyTimeoutMs?: number;
  /** The service account the agent runs as: it binds itself in each tenant namespace it creates. */
  agent?: AgentSubject;
  log?: (msg: string, data?: Record<string, unknown>) => void;
}

/** What every tier works with: the host cluster's API clients, the options, the log and `apply`. */
export interface TierContext {
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly objects: KubernetesObjectApi;
  readonly authz: AuthorizationV1Api;
  readonly o: KubeTenantExecutorOptions;
  readonly log: NonNullable<KubeTenantExecutorOptions['log']>;
  /** Server-side applies each object by name (to the host cluster unless `api` names another). */
  apply(objs: readonly KubeObject[], api?: KubernetesObjectApi): Promise<void>;
}

export function tierContext(o: KubeTenantExecutorOptions): TierContext {
  const ctx: TierContext = {
    core: o.kubeconfig.makeApiClient(CoreV1Api),
    apps: o.kubeconfig.makeApiClient(AppsV1Api),
    objects: KubernetesObjectApi.makeApiClient(o.kubeconfig),
    authz: o.kubeconfig.makeApiClient(AuthorizationV1Api),
    o,
    log: o.log ?? (() => undefined),
    async apply(objs, api = ctx.objects) {
      for (const obj of objs) {
        await api.patch(obj, undefined, undefined, 'fleetforge', true, PatchStrategy.ServerSideApply);
        // On the host cluster the agent holds no rights inside a namespace until it binds itself there.
        if (obj.kind === 'Namespace' && api === ctx.objects) await bindAgent(ctx, obj.metadata.name);
      }
    },
  };
  return ctx;
}

/** The HTTP status of a failed API call. */
export const code = (err: unknown) => (err as { code?: number }).code;

/** Runs `call`; a failure with HTTP `status` yields undefined, any other is thrown. */
export async function tolerate<T>(status: number, call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call();
  } catch (err) {
    if (code(err) !== status) throw err;
    return undefined;
  }
}

/** A secret's value as text (a missing key reads as ''). */
export const decode = (b64: string | undefined) => Buffer.from(b64 ?? '', 'base64').toString('utf8');

/**
 * Binds the agent to its tenant ClusterRole in `ns` (agent/deploy/rbac.yaml). A plain
 * create, not an apply: outside a tenant namespace that is all the agent may do with
 * role bindings. Then waits until the authorizer honours the binding (its cache lags).
 */
export async function bindAgent(ctx: TierContext, ns: string): Promise<void> {
  await tolerate(409, () => ctx.objects.create(agentTenantRoleBinding(ns, ctx.o.agent ?? DEFAULT_AGENT_SUBJECT)));
  await until(`the agent's role binding in ${ns}`, 10_000, async () => {
    const review = await ctx.authz.createSelfSubjectAccessReview({
      body: { spec: { resourceAttributes: { namespace: ns, verb: 'patch', resource: 'resourcequotas' } } },
    });
    return review.status?.allowed === true;
  });
}

export async function deleteNamespace(ctx: TierContext, ns: string, timeoutMs = 120_000): Promise<void> {
  try {
    await ctx.core.deleteNamespace({ name: ns });
  } catch (err) {
    if (code(err) === 404) return;
    throw err;
  }
  await until(`namespace ${ns} gone`, timeoutMs, async () => {
    try {
      await ctx.core.readNamespace({ name: ns });
      return false;
    } catch (err) {
      if (code(err) === 404) return true;
      throw err;
    }
  });
}

/** Checks every 250 ms until `check` holds; a 404 counts as not yet, other errors are kept for the timeout's message. */
export async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      if (code(err) !== 404) last = describe(err);
    }
    if (Date.now() > deadline)
      throw new Error(`${what}: not within ${Math.round(timeoutMs / 1000)} s${last ? ` (${last})` : ''}`);
    await sleep(250);
  }
}

export function describe(err: unknown): string {
  const e = err as { code?: number; body?: unknown; message?: string };
  if (e.code && e.body) {
    const body = typeof e.body === 'string' ? e.body : JSON.stringify(e.body);
    try {
      const parsed = JSON.parse(body) as { message?: string };
      return `HTTP ${e.code}: ${parsed.message ?? body}`;
    } catch {
      return `HTTP ${e.code}: ${body.slice(0, 300)}`;
    }
  }
  return e.message ?? String(err);
}
