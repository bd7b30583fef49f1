import { request } from 'node:https';
import { stringify } from 'yaml';
import { sleep } from '@fleetforge/shared';

/**
 * A kubeconfig for a loopback API server with a bearer token. The local API
 * servers use self-signed serving certificates, so TLS verification is off:
 * this is only ever written for 127.0.0.1.
 */
export function kubeconfigYaml(o: {
  server: string;
  token: string;
  name: string;
  user: string;
  namespace?: string;
}): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: o.name, cluster: { server: o.server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: o.user, user: { token: o.token } }],
    contexts: [
      {
        name: o.name,
        context: { cluster: o.name, user: o.user, ...(o.namespace ? { namespace: o.namespace } : {}) },
      },
    ],
    'current-context': o.name,
  });
}

/** GET over HTTPS without certificate checks (loopback, self-signed), with a bearer token. */
export function httpsGet(
  url: string,
  token: string | undefined,
  timeoutMs = 2000,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'GET',
        rejectUnauthorized: false,
        headers: token ? { authorization: `Bearer ${token}` } : {},
        timeout: timeoutMs,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Waits until `url` answers 200 (an API server's /readyz). */
export async function httpsReady(
  url: string,
  token: string,
  timeoutMs: number,
  died?: Promise<unknown>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let dead = false;
  void died?.then(() => (dead = true));
  let last = '';
  for (;;) {
    try {
      const r = await httpsGet(url, token);
      if (r.status === 200) return;
      last = `${r.status} ${r.body.slice(0, 200)}`;
    } catch (err) {
      last = String(err);
    }
    if (dead) throw new Error(`${url}: the process exited before it was ready (${last})`);
    if (Date.now() > deadline) throw new Error(`${url} not ready within ${timeoutMs} ms (${last})`);
    await sleep(200);
  }
}
