/**
 * Malformed bodies against the real HTTP server in-process: functions-framework's
 * own Express server (its body parsers, as deployed and as the local stack runs it)
 * in front of the API on in-memory fakes. Whatever the body, the answer is a 4xx
 * that says what is wrong, never a 5xx.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as ff from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import fc from 'fast-check';
import { ErrorBodySchema } from '@fleetforge/shared';
import { FakeClock } from '@fleetforge/shared/testing';
import { memoryDeps } from '../testing/memory-deps';
import { BODY_LIMITS } from './body';
import { apiHttpFunction } from './http-function';
import { ApiRouter } from './router';
import { storeToken } from './tokens';

const TOKEN = 'body-test-admin';
let server: Server;
let base: string;

beforeAll(async () => {
  const clock = new FakeClock('2026-03-01T10:00:00.000Z');
  const deps = memoryDeps({ clock });
  const { store } = deps;
  await storeToken(store, TOKEN, { name: 'admin', role: 'admin', tenant: null, createdBy: 'test' }, clock.now());
  const router = new ApiRouter(deps);
  ff.http(
    'api-body-test',
    apiHttpFunction(() => router),
  );
  server = getTestServer('api-body-test');
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});

async function send(path: string, contentType: string | undefined, body: string | Buffer | undefined, method = 'POST') {
  const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` };
  if (contentType !== undefined) headers['content-type'] = contentType;
  const res = await fetch(`${base}${path}`, { method, headers, body });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

const billionLaughs = [
  'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
  'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
  'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
  'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
  'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
  'g: [*f,*f,*f,*f,*f,*f,*f,*f,*f]',
].join('\n');

const deepJson = `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`;
const deepYaml = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;

/** [case, path, content type, body, status, what the message must say] */
const CASES: Array<[string, string, string | undefined, string | Buffer, number, RegExp]> = [
  // application/json that is not a JSON object or array never reaches the API: the framework's
  // strict JSON parser answers 400 itself (its HTML error page; with NODE_ENV=production,
  // as on GCP and in the local stack, just "Bad Request").
  ['invalid JSON (framework)', '/v1/tokens', 'application/json', '{"name": ', 400, /SyntaxError|Bad Request/],
  ['JSON null (framework)', '/v1/tokens', 'application/json', 'null', 400, /SyntaxError|Bad Request/],
  ['invalid JSON (API)', '/v1/tokens', 'text/plain', '{"name": ', 400, /malformed YAML\/JSON/],
  ['invalid JSON, +json type', '/v1/tokens', 'application/merge-patch+json', '{nope', 400, /malformed JSON/],
  ['JSON array', '/v1/tokens', 'application/json', '[1,2]', 400, /must be an object, got an array/],
  ['JSON null (API)', '/v1/tokens', 'application/vnd.api+json', 'null', 400, /must be an object, got null/],
  ['JSON string (text/plain)', '/v1/tokens', 'text/plain', '"admin"', 400, /must be an object, got a string/],
  ['empty body', '/v1/tokens', 'application/json', '', 400, /request body is empty: POST \/v1\/tokens/],
  ['whitespace body', '/v1/worlds', 'application/yaml', '  \n ', 400, /request body is empty/],
  ['wrong field type', '/v1/tokens', 'application/json', '{"name":"x","role":7}', 400, /role/],
  ['unknown field', '/v1/tokens', 'application/json', '{"name":"x","role":"observer","x":1}', 400, /x/],
  [
    'manifest, nested bad field',
    '/v1/worlds',
    'application/yaml',
    'apiVersion: fleetforge.dev/v1\nkind: World\nmetadata: {name: w}\nspec: {bounds: 7}\n',
    400,
    /spec/,
  ],
  ['malformed YAML', '/v1/worlds', 'application/yaml', 'a: [1, 2\nb: }', 400, /malformed YAML/],
  ['duplicate YAML keys', '/v1/worlds', 'application/yaml', 'a: 1\na: 2\n', 400, /malformed YAML/],
  ['billion laughs', '/v1/worlds', 'application/yaml', billionLaughs, 400, /alias/],
  ['deep JSON', '/v1/tokens', 'application/json', deepJson, 400, /deeper than 64/],
  ['deep YAML flow', '/v1/worlds', 'text/yaml', deepYaml, 400, /YAML|deeper/],
  [
    'form-encoded',
    '/v1/tokens',
    'application/x-www-form-urlencoded',
    'name=x&role=admin',
    415,
    /application\/x-www-form-urlencoded is not supported/,
  ],
  ['XML', '/v1/worlds', 'application/xml', '<world/>', 415, /application\/xml is not supported/],
  ['octet-stream', '/v1/tokens', 'application/octet-stream', Buffer.from([0, 1, 2]), 415, /not supported/],
  ['latin1 charset', '/v1/worlds', 'text/yaml; charset=latin1', 'a: 1', 415, /charset latin1/],
  ['invalid UTF-8', '/v1/worlds', 'application/yaml', Buffer.from([0x61, 0x3a, 0x20, 0xff, 0xfe]), 400, /UTF-8/],
  [
    'huge body',
    '/v1/worlds',
    'application/yaml',
    `a: "${'x'.repeat(BODY_LIMITS.maxBytes)}"`,
    413,
    /limit is 1048576 bytes/,
  ],
  ['bad percent-encoding in a path parameter', '/v1/worlds/w/cells/%E0%A4%A:split', 'application/json', '{}', 400, /./],
];

describe('malformed request bodies over HTTP', () => {
  // Real HTTP through functions-framework, and YAML nesting that is costly to parse: over 5 s on a loaded machine.
  jest.setTimeout(30_000);
  it.each(CASES)('%s', async (_name, path, type, body, status, message) => {
    const res = await send(path, type, body);
    expect(res.status).toBe(status);
    expect(res.text).toMatch(message);
  });

  it('answers the API error body (code, message, the zod path of each bad field) for what the API parses', async () => {
    const res = await send('/v1/tokens', 'application/json', '{"name":"ok","role":"emperor"}');
    expect(res.status).toBe(400);
    const err = ErrorBodySchema.parse(res.json).error;
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.issues).toEqual([expect.objectContaining({ path: 'role' })]);

    const big = await send('/v1/tokens', 'application/json', `{"name":"${'x'.repeat(BODY_LIMITS.maxBytes)}"}`);
    expect(ErrorBodySchema.parse(big.json).error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', retryable: false });
  });

  it('still accepts good bodies: JSON, YAML and an optional body left empty', async () => {
    const created = await send('/v1/tokens', 'application/json', '{"name":"ci","role":"observer"}');
    expect(created.status).toBe(201);
    const yaml = await send('/v1/tokens', 'application/yaml', 'name: ci2\nrole: observer\n');
    expect(yaml.status).toBe(201);
    // A manual split takes an optional body: empty means `{}` (the world does not exist: 404, not 400).
    const split = await send('/v1/worlds/nope/cells/r0c0:split', undefined, '');
    expect(split.status).toBe(404);
  });

  it('refuses a path parameter that is not a document id (a slash, a space, NUL) with 400', async () => {
    for (const path of [
      '/v1/worlds/a%2Fb',
      '/v1/worlds/a%20b',
      '/v1/tenants/%00',
      '/v1/worlds/w/cells/a%2F..%2Fb:split',
    ]) {
      const post = path.endsWith(':split');
      const res = await send(path, 'application/json', post ? '{}' : undefined, post ? 'POST' : 'GET');
      expect([path, res.status]).toEqual([path, 400]);
    }
  });

  it('random path parameters never get a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/v1/worlds/', '/v1/tenants/', '/v1/worlds/w/cells/'),
        fc.string({ minLength: 1 }),
        async (prefix, name) => {
          const res = await fetch(`${base}${prefix}${encodeURIComponent(name)}`, {
            headers: { authorization: `Bearer ${TOKEN}` },
          });
          expect(res.status).toBeLessThan(500);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('checks the token before it parses a body', async () => {
    const res = await fetch(`${base}/v1/worlds`, {
      method: 'POST',
      headers: { 'content-type': 'application/yaml' },
      body: billionLaughs,
    });
    expect(res.status).toBe(401);
  });

  const paths = ['/v1/worlds', '/v1/tokens', '/v1/tenants', '/v1/config/scaling', '/v1/worlds/w/cells:merge'];
  const types = [
    'application/json',
    'application/yaml',
    'text/plain',
    'application/octet-stream',
    'application/x-www-form-urlencoded',
    'application/json; charset=utf-16',
  ];

  it('random bytes never get a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...paths),
        fc.constantFrom(...types),
        fc.uint8Array({ maxLength: 512 }),
        async (path, type, bytes) => {
          const res = await send(path, type, Buffer.from(bytes), path === '/v1/config/scaling' ? 'PATCH' : 'POST');
          expect(res.status).toBeGreaterThanOrEqual(200);
          expect(res.status).toBeLessThan(500);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('random JSON values never get a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...paths), fc.jsonValue({ maxDepth: 6 }), async (path, value) => {
        const res = await send(
          path,
          'application/json',
          JSON.stringify(value),
          path === '/v1/config/scaling' ? 'PATCH' : 'POST',
        );
        expect(res.status).toBeGreaterThanOrEqual(200);
        expect(res.status).toBeLessThan(500);
      }),
      { numRuns: 150 },
    );
  });
});
