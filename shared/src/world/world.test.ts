import { FleetError } from '../core/errors';
import { isPartition } from './geometry';
import { parseOrThrow } from '../core/validation';
import { AgentCommandSchema } from '../ports/messages';
import {
  PLATFORM_TENANT,
  WORLD_API_VERSION,
  WorldManifestSchema,
  WorldSpecSchema,
  initialCells,
  worldTenant,
} from './world';

/** A minimal valid spec; each test overrides what it is about. */
function specInput(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    topology: { bounds: { x: 0, y: 0, width: 1000, height: 1000 }, grid: { cols: 2, rows: 2 } },
    ...over,
  };
}

function manifestInput(over: Record<string, unknown> = {}): Record<string, unknown> {
  return { apiVersion: WORLD_API_VERSION, kind: 'World', metadata: { name: 'world-a' }, spec: specInput(), ...over };
}

/** Parses and returns the thrown FleetError (failing the test if nothing is thrown). */
function rejection(schema: typeof WorldSpecSchema | typeof WorldManifestSchema, value: unknown): FleetError {
  try {
    parseOrThrow(schema, value, 'manifest');
  } catch (err) {
    expect(err).toBeInstanceOf(FleetError);
    const e = err as FleetError;
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.httpStatus).toBe(400);
    expect(e.retryable).toBe(false);
    expect(e.message).toMatch(/^invalid manifest: /);
    return e;
  }
  throw new Error('expected the value to be rejected');
}

const paths = (e: FleetError) => e.issues.map((i) => i.path);

/** Deep-sets `path` (dotted) in a copy of `obj`. */
function withField(obj: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const copy = structuredClone(obj);
  const keys = path.split('.');
  let node: Record<string, unknown> = copy;
  for (const k of keys.slice(0, -1)) {
    node[k] ??= {};
    node = node[k] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
  return copy;
}

describe('WorldManifestSchema / WorldSpecSchema', () => {
  it('fills every default', () => {
    const m = parseOrThrow(WorldManifestSchema, manifestInput(), 'manifest');
    expect(m.spec).toEqual({
      topology: { bounds: { x: 0, y: 0, width: 1000, height: 1000 }, grid: { cols: 2, rows: 2 } },
      capacity: { sessions: 500, cpuMillis: 1000, memoryMiB: 512 },
      scaling: {
        splitSessions: 400,
        mergeSessions: 100,
        splitCpuRatio: 0.85,
        splitSustainSeconds: 5,
        mergeSustainSeconds: 30,
        cooldownSeconds: 30,
        splitsPerMinuteGlobal: 6,
        splitsPerMinutePerCell: 1,
        maxConcurrentSplits: 4,
        minCellSize: 16,
        maxCells: 16,
        strategy: 'load-aware',
        readinessTimeoutSeconds: 10,
      },
      persistence: { sessionStore: 'memory' },
    });
    expect(m.metadata).toEqual({ name: 'world-a' });
  });

  it('fills the defaults of a partly given section and keeps what was given', () => {
    const spec = parseOrThrow(
      WorldSpecSchema,
      specInput({ scaling: { maxCells: 32 }, capacity: { sessions: 800 } }),
      'spec',
    );
    expect(spec.scaling.maxCells).toBe(32);
    expect(spec.scaling.splitSessions).toBe(400);
    expect(spec.capacity).toEqual({ sessions: 800, cpuMillis: 1000, memoryMiB: 512 });
  });

  it.each([
    ['extra', 'extra'],
    ['metadata.owner', 'metadata.owner'],
    ['spec.replicas', 'spec.replicas'],
    ['spec.topology.depth', 'spec.topology.depth'],
    ['spec.topology.bounds.z', 'spec.topology.bounds.z'],
    ['spec.topology.grid.layers', 'spec.topology.grid.layers'],
    ['spec.capacity.gpus', 'spec.capacity.gpus'],
    ['spec.scaling.splitMemoryRatio', 'spec.scaling.splitMemoryRatio'],
    ['spec.persistence.redisUrl', 'spec.persistence.redisUrl'],
  ])('rejects the unknown field %s, naming it', (field, expectedPath) => {
    const e = rejection(WorldManifestSchema, withField(manifestInput(), field, 1));
    expect(paths(e)).toEqual([expectedPath]);
  });

  it.each([
    ['topology.bounds.width', 0],
    ['topology.bounds.height', -5],
    ['topology.bounds.width', 10.5],
    ['topology.grid.cols', 0],
    ['topology.grid.rows', -1],
    ['topology.grid.cols', 65],
    ['capacity.sessions', 0],
    ['capacity.cpuMillis', -1000],
    ['scaling.minCellSize', 0],
    ['scaling.maxCells', 0],
    ['scaling.maxCells', 257],
    ['scaling.splitCpuRatio', 0],
  ])('rejects %s = %p', (field, value) => {
    const e = rejection(WorldSpecSchema, withField(specInput(), field, value));
    expect(paths(e)).toContain(field);
  });

  it.each([
    [{ width: 1000, height: 1000 }, { cols: 3, rows: 2 }, 'width 1000 is not divisible by 3 columns'],
    [{ width: 1000, height: 900 }, { cols: 2, rows: 7 }, 'height 900 is not divisible by 7 rows'],
  ])('rejects bounds %o cut by grid %o at topology.grid', (size, g, message) => {
    const e = rejection(WorldSpecSchema, specInput({ topology: { bounds: { x: 0, y: 0, ...size }, grid: g } }));
    expect(e.issues).toEqual([{ path: 'topology.grid', message }]);
  });

  it('prefixes cross-field paths with spec. inside a manifest', () => {
    const bad = withField(manifestInput(), 'spec.topology.grid.cols', 3);
    expect(paths(rejection(WorldManifestSchema, bad))).toEqual(['spec.topology.grid']);
  });

  it('rejects more cells than scaling.maxCells and accepts them once maxCells allows', () => {
    const topology = { bounds: { x: 0, y: 0, width: 400, height: 400 }, grid: { cols: 5, rows: 4 } };
    const e = rejection(WorldSpecSchema, specInput({ topology }));
    expect(e.issues).toEqual([
      { path: 'topology.grid', message: 'grid has 20 cells, more than scaling.maxCells (16)' },
    ]);
    expect(parseOrThrow(WorldSpecSchema, specInput({ topology, scaling: { maxCells: 20 } }), 'spec').topology).toEqual(
      topology,
    );
  });

  it.each([
    [{ mergeSessions: 400 }, false],
    [{ mergeSessions: 500, splitSessions: 450 }, false],
    [{ mergeSessions: 399 }, true],
    [{ mergeSessions: 0, splitSessions: 1 }, true],
  ])('scaling %o accepted: %s (mergeSessions must be below splitSessions)', (scaling, ok) => {
    const input = specInput({ scaling });
    if (ok) expect(parseOrThrow(WorldSpecSchema, input, 'spec').scaling).toMatchObject(scaling);
    else expect(paths(rejection(WorldSpecSchema, input))).toEqual(['scaling.mergeSessions']);
  });

  it.each<[unknown, string[] | 'ok']>([
    [undefined, 'ok'],
    [{ size: 0 }, 'ok'],
    [{ size: 16 }, 'ok'],
    [{ size: 17 }, ['warmPool.size']], // more than maxCells (16)
    [{ size: -1 }, ['warmPool.size']],
    [{ size: 2.5 }, ['warmPool.size']],
    [{ size: 4, idle: true }, ['warmPool.idle']],
  ])('warmPool %o: %p', (warmPool, want) => {
    const input = specInput(warmPool === undefined ? {} : { warmPool });
    if (want === 'ok') expect(parseOrThrow(WorldSpecSchema, input, 'spec').warmPool).toEqual(warmPool);
    else expect(paths(rejection(WorldSpecSchema, input))).toEqual(want);
  });

  it('rejects splitSessions above capacity.sessions at scaling.splitSessions', () => {
    const e = rejection(WorldSpecSchema, specInput({ capacity: { sessions: 300 } }));
    expect(paths(e)).toEqual(['scaling.splitSessions']);
  });

  it('rejects initial cells smaller than minCellSize at scaling.minCellSize', () => {
    const topology = { bounds: { x: 0, y: 0, width: 120, height: 120 }, grid: { cols: 8, rows: 8 } };
    const e = rejection(WorldSpecSchema, specInput({ topology, scaling: { maxCells: 64 } }));
    expect(e.issues).toEqual([
      { path: 'scaling.minCellSize', message: 'initial cells are 15x15, smaller than minCellSize 16' },
    ]);
  });

  it.each(['World-A', '-world', 'world-', 'world_a', 'world a', 'wörld', '', 'a'.repeat(41)])(
    'rejects the name %p at metadata.name',
    (name) => {
      const e = rejection(WorldManifestSchema, withField(manifestInput(), 'metadata.name', name));
      expect(new Set(paths(e))).toEqual(new Set(['metadata.name']));
    },
  );

  it.each(['a', '0', 'world-1', 'a--b', 'a'.repeat(40)])('accepts the name %p', (name) => {
    expect(
      parseOrThrow(WorldManifestSchema, withField(manifestInput(), 'metadata.name', name), 'manifest').metadata.name,
    ).toBe(name);
  });

  it.each([
    ['apiVersion', 'fleetforge.dev/v2'],
    ['kind', 'Cell'],
    ['spec', undefined],
  ])('rejects %s = %p', (field, value) => {
    expect(paths(rejection(WorldManifestSchema, withField(manifestInput(), field, value)))).toEqual([field]);
  });

  // The cross-field refinement must not run on (and crash over) a malformed shape.
  it.each([
    ['topology', {}],
    ['topology.grid', { topology: { bounds: { x: 0, y: 0, width: 10, height: 10 } } }],
    ['topology.bounds', { topology: { bounds: null, grid: { cols: 1, rows: 1 } } }],
    ['scaling', { ...specInput(), scaling: 'fast' }],
    ['capacity', { ...specInput(), capacity: null }],
  ])('reports a malformed %s as INVALID_ARGUMENT, not a TypeError', (path, input) => {
    expect(paths(rejection(WorldSpecSchema, input))).toEqual([path]);
  });

  it('names every bad field at once', () => {
    const bad = withField(withField(manifestInput(), 'metadata.name', 'Bad'), 'spec.capacity.cpuMillis', 0);
    expect(paths(rejection(WorldManifestSchema, bad)).sort()).toEqual(['metadata.name', 'spec.capacity.cpuMillis']);
  });
});

describe('spec.tenant', () => {
  it.each([
    [
      'absent: the platform tenant, and the parsed spec has no key (stored worlds keep their hash)',
      undefined,
      PLATFORM_TENANT,
    ],
    ['a tenant by name', 'acme', 'acme'],
    ['the platform tenant by name', PLATFORM_TENANT, PLATFORM_TENANT],
  ])('%s', (_what, tenant, owner) => {
    const spec = specInput(tenant === undefined ? {} : { tenant });
    const m = parseOrThrow(WorldManifestSchema, manifestInput({ spec }), 'manifest');
    expect(worldTenant(m.spec)).toBe(owner);
    expect('tenant' in m.spec).toBe(tenant !== undefined);
  });

  it.each([['Acme'], [''], ['a'.repeat(41)], [42]])('rejects %p at spec.tenant', (tenant) => {
    const e = rejection(WorldManifestSchema, manifestInput({ spec: specInput({ tenant }) }));
    expect(new Set(paths(e))).toEqual(new Set(['spec.tenant']));
  });
});

describe('start command billing fields', () => {
  const start = {
    kind: 'start',
    commandId: 'c1',
    world: 'world-a',
    cell: 'r0c0',
    incarnation: 1,
    correlationId: 'corr',
    boundary: { x: 0, y: 0, width: 10, height: 10 },
    capacity: { sessions: 100, cpuMillis: 1000, memoryMiB: 256 },
  };

  it('parses a command from before worlds named tenants with null tenant and tier (the platform tenant)', () => {
    expect(AgentCommandSchema.parse(start)).toMatchObject({ tenant: null, tier: null });
  });

  it('carries a tenant and its tier, and rejects a tier that is not one', () => {
    expect(AgentCommandSchema.parse({ ...start, tenant: 'acme', tier: 'dedicated' })).toMatchObject({
      tenant: 'acme',
      tier: 'dedicated',
    });
    expect(AgentCommandSchema.safeParse({ ...start, tenant: 'acme', tier: 'gold' }).success).toBe(false);
  });
});

describe('initialCells', () => {
  it('returns row-major r{row}c{col} ids whose regions partition the bounds', () => {
    const bounds = { x: -100, y: 0, width: 300, height: 200 };
    const spec = parseOrThrow(WorldSpecSchema, specInput({ topology: { bounds, grid: { cols: 3, rows: 2 } } }), 'spec');
    const cells = initialCells(spec);
    expect(cells).toEqual([
      { id: 'r0c0', boundary: { x: -100, y: 0, width: 100, height: 100 } },
      { id: 'r0c1', boundary: { x: 0, y: 0, width: 100, height: 100 } },
      { id: 'r0c2', boundary: { x: 100, y: 0, width: 100, height: 100 } },
      { id: 'r1c0', boundary: { x: -100, y: 100, width: 100, height: 100 } },
      { id: 'r1c1', boundary: { x: 0, y: 100, width: 100, height: 100 } },
      { id: 'r1c2', boundary: { x: 100, y: 100, width: 100, height: 100 } },
    ]);
    expect(
      isPartition(
        bounds,
        cells.map((c) => c.boundary),
      ),
    ).toBe(true);
  });
});
