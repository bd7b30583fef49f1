import type { HttpFunction } from '@google-cloud/functions-framework';
import type { ApiRouter } from './router';

/**
 * The `api` HTTP function: functions-framework's request in, the router's answer out.
 * The deployed function, the local stack (functions-framework serving functions/dist)
 * and the in-process HTTP tests all run this, so a body is read the same everywhere:
 * the router parses `rawBody` itself (./body), never the framework's `req.body`.
 */
export function apiHttpFunction(router: () => ApiRouter, beforeAnswer?: () => Promise<void>): HttpFunction {
  return async (req, res) => {
    const out = await router().handle({
      method: req.method,
      path: req.path,
      query: Object.fromEntries(Object.entries(req.query).map(([k, v]) => [k, typeof v === 'string' ? v : undefined])),
      headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v])),
      body: undefined,
      // The framework keeps the raw bytes of every body it read (JSON, text, form or other).
      rawBody: (req as { rawBody?: Buffer }).rawBody ?? Buffer.alloc(0),
    });
    await beforeAnswer?.();
    res.status(out.status).type(out.contentType ?? 'application/json');
    if (typeof out.body === 'string') res.send(out.body);
    else res.send(JSON.stringify(out.body));
  };
}
