import YAML from 'yaml';
import { FleetError } from '@fleetforge/shared';

/**
 * Request-body limits. functions-framework buffers bodies (up to its own 1 GiB, and the
 * platform's 32 MiB on GCP) before the API sees them; these are the API's own, far
 * below both, so every oversized or hostile body is refused before any handler runs.
 */
export const BODY_LIMITS = {
  /** A World manifest of the largest grid is a few KiB; 1 MiB leaves room and bounds parse cost. */
  maxBytes: 1024 * 1024,
  /** Nothing the API accepts nests deeper than ~6; deep nesting only costs recursion. */
  maxDepth: 64,
  /** YAML aliases expand on conversion (billion laughs); a manifest needs none. */
  maxAliasCount: 50,
} as const;

const JSON_TYPES = ['application/json'];
const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];
/** What the API parses; `text/plain` is what `fetch` and `curl --data-binary` send by default. */
export const ACCEPTED_TYPES = [...JSON_TYPES, ...YAML_TYPES, 'text/plain'];

const utf8 = new TextDecoder('utf-8', { fatal: true });

function invalid(message: string): FleetError {
  return new FleetError('INVALID_ARGUMENT', message, { issues: [{ path: '(body)', message }] });
}

/** Iterative (a recursive walk would itself overflow on the input it guards against). */
function depthOf(value: unknown): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d > max) max = d;
    if (max > BODY_LIMITS.maxDepth) return max;
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

function parseYaml(text: string): unknown {
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const messages = doc.errors.map((e) => e.message.split('\n')[0]!);
    throw new FleetError('INVALID_ARGUMENT', `malformed YAML/JSON: ${messages.join('; ')}`, {
      issues: messages.map((message) => ({ path: '(body)', message })),
    });
  }
  try {
    return doc.toJS({ maxAliasCount: BODY_LIMITS.maxAliasCount }) as unknown;
  } catch (err) {
    // yaml throws a ReferenceError when aliases would expand past maxAliasCount.
    throw invalid(`YAML refused: ${(err as Error).message} (at most ${BODY_LIMITS.maxAliasCount} alias uses)`);
  }
}

/**
 * Turns a raw request body into the value a route's zod schema checks, or a 4xx.
 * Parses the raw bytes itself (never functions-framework's `req.body`), so the
 * deployed function, the local stack and in-process tests read a body identically.
 *
 * @returns undefined for an empty body (the route decides whether that is allowed).
 */
export function parseRequestBody(raw: Buffer | undefined, contentType: string | undefined): unknown {
  if (!raw || raw.length === 0) return undefined;
  if (raw.length > BODY_LIMITS.maxBytes) {
    throw new FleetError(
      'PAYLOAD_TOO_LARGE',
      `request body is ${raw.length} bytes; the limit is ${BODY_LIMITS.maxBytes} bytes`,
    );
  }
  const [mediaType = '', ...params] = (contentType ?? '').toLowerCase().split(';');
  const type = mediaType.trim();
  const charset = params
    .map((p) => p.trim())
    .find((p) => p.startsWith('charset='))
    ?.slice('charset='.length)
    .replace(/"/g, '');
  if (type !== '' && !ACCEPTED_TYPES.includes(type) && !type.endsWith('+json')) {
    throw new FleetError(
      'UNSUPPORTED_MEDIA_TYPE',
      `content type ${type} is not supported; send one of ${ACCEPTED_TYPES.join(', ')}`,
    );
  }
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw new FleetError('UNSUPPORTED_MEDIA_TYPE', `charset ${charset} is not supported; send utf-8`);
  }
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw invalid('request body is not valid UTF-8');
  }
  if (text.trim() === '') return undefined;

  let value: unknown;
  if (JSON_TYPES.includes(type) || type.endsWith('+json')) {
    try {
      value = JSON.parse(text) as unknown;
    } catch (err) {
      throw invalid(`malformed JSON: ${(err as Error).message}`);
    }
  } else {
    // YAML is a superset of JSON: a manifest may come either way.
    value = parseYaml(text);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
    throw invalid(`request body must be an object, got ${got}`);
  }
  if (depthOf(value) > BODY_LIMITS.maxDepth) {
    throw invalid(`request body nests deeper than ${BODY_LIMITS.maxDepth} levels`);
  }
  return value;
}
