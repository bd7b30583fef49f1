/**
 * docs/api.md from the OpenAPI document the API serves (docs/openapi.json), so the
 * reference cannot drift from the routes: `npm run gen` writes it, and
 * documents.test.ts fails while it is stale.
 */
import { ERROR_CODES } from '@fleetforge/shared';

interface Schema {
  type?: string | string[];
  const?: unknown;
  enum?: unknown[];
  description?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  default?: unknown;
}

interface Operation {
  summary?: string;
  security?: Array<Record<string, unknown>>;
  'x-fleetforge-permission'?: string;
  parameters?: Array<{ name: string; in: string; required?: boolean; description?: string; schema?: Schema }>;
  requestBody?: { required?: boolean; content?: Record<string, { schema?: Schema }> };
}

export interface OpenApiDoc {
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
}

/** A short type for a table cell: `string`, `"World"`, `integer[]`, `object`. */
function typeOf(s: Schema | undefined): string {
  if (!s) return 'any';
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' \\| ');
  const alts = s.anyOf ?? s.oneOf;
  if (alts) return alts.map(typeOf).join(' \\| ');
  if (s.type === 'array') return `${typeOf(s.items)}[]`;
  if (Array.isArray(s.type)) return s.type.join(' \\| ');
  return s.type ?? 'any';
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function operationMarkdown(method: string, path: string, op: Operation): string[] {
  const lines = [`### \`${method.toUpperCase()} ${path}\``, ''];
  if (op.summary) lines.push(op.summary, '');
  const permission = op['x-fleetforge-permission'];
  const open = Array.isArray(op.security) && op.security.length === 0;
  lines.push(
    open ? 'Auth: none required.' : `Auth: bearer token${permission ? ` with the \`${permission}\` permission` : ''}.`,
    '',
  );
  const params = op.parameters ?? [];
  if (params.length > 0) {
    lines.push('| parameter | in | type | required | description |', '| --- | --- | --- | --- | --- |');
    for (const p of params) {
      lines.push(
        `| \`${p.name}\` | ${p.in} | ${cell(typeOf(p.schema))} | ${p.required ? 'yes' : 'no'} | ${cell(p.description ?? '')} |`,
      );
    }
    lines.push('');
  }
  const body = op.requestBody?.content?.['application/json']?.schema;
  if (body) {
    lines.push(`Request body (JSON${op.requestBody?.required ? ', required' : ''}):`, '');
    const props = Object.entries(body.properties ?? {});
    if (props.length > 0) {
      lines.push('| field | type | required | description |', '| --- | --- | --- | --- |');
      for (const [name, s] of props) {
        const required = body.required?.includes(name) ? 'yes' : 'no';
        lines.push(`| \`${name}\` | ${cell(typeOf(s))} | ${required} | ${cell(s.description ?? '')} |`);
      }
      lines.push('');
    } else lines.push(`\`${typeOf(body)}\``, '');
  }
  return lines;
}

/** The API reference as Markdown: every route, its auth, parameters and body, then the error model. */
export function apiMarkdown(doc: OpenApiDoc): string {
  const lines = [
    `# ${doc.info.title} reference`,
    '',
    '<!-- Generated from docs/openapi.json by `npm run gen` (scripts/src/gen/api-doc.ts); do not edit. -->',
    '',
    'Every route answers JSON. Authenticated routes take `Authorization: Bearer <token>`',
    "(`ffctl token create`); the token's role must grant the permission listed. Full",
    'request and response schemas are in [openapi.json](openapi.json), which the API also',
    'serves at `GET /v1/openapi.json`.',
    '',
    '## Routes',
    '',
  ];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) lines.push(...operationMarkdown(method, path, op));
  }
  lines.push(
    '## Errors',
    '',
    'Every error is `{"error": {"code", "message", "retryable", "issues"?, "details"?}}`;',
    '`issues` lists the fields that failed validation (`path`, `message`). `retryable`',
    'says whether the same request may succeed later.',
    '',
    '| code | HTTP status | retryable |',
    '| --- | --- | --- |',
    ...Object.entries(ERROR_CODES).map(
      ([code, e]) => `| \`${code}\` | ${e.httpStatus} | ${e.retryable ? 'yes' : 'no'} |`,
    ),
    '',
  );
  return lines.join('\n');
}
