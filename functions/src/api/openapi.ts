import { z } from 'zod';
import { ErrorBodySchema } from '@fleetforge/shared';
import type { Route } from './http';

function schema(s: z.ZodType, io: 'input' | 'output'): unknown {
  return z.toJSONSchema(s, { io, unrepresentable: 'any' });
}

/** The OpenAPI 3.1 document, generated from the route table and its zod schemas. */
export function openApiDocument(routes: readonly Route[]): Record<string, unknown> {
  const pathsObj: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const params = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    const query = Object.entries(r.query ?? {}).map(([name, description]) => ({
      name,
      in: 'query',
      required: false,
      description,
      schema: { type: 'string' },
    }));
    const op: Record<string, unknown> = {
      summary: r.summary,
      ...(r.permission ? { security: [{ bearer: [] }], 'x-fleetforge-permission': r.permission } : { security: [] }),
      parameters: [...params, ...query],
      responses: {
        '2XX': {
          description: 'success',
          ...(r.responseSchema
            ? { content: { 'application/json': { schema: schema(r.responseSchema, 'output') } } }
            : {}),
        },
        default: {
          description: 'error',
          content: { 'application/json': { schema: schema(ErrorBodySchema, 'output') } },
        },
      },
    };
    if (r.requestSchema) {
      const s = schema(r.requestSchema, 'input');
      op.requestBody = {
        required: true,
        content: { 'application/json': { schema: s }, 'application/yaml': { schema: s } },
      };
    }
    (pathsObj[r.path] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'FleetForge API', version: '1' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths: pathsObj,
  };
}
