/** Test-only helpers for handler and use-case tests on the in-memory fakes. */
import { AgentReportSchema, type AgentReport } from '@fleetforge/shared';
import { ApiRouter } from '../api/router';
import type { ApiResponse } from '../api/http';
import { storeToken } from '../api/tokens';
import type { Deps } from '../deps';

/** A world `w` of two cells, r0c0 and r0c1. */
export const TWO_CELL_WORLD = `apiVersion: fleetforge.dev/v1
kind: World
metadata:
  name: w
spec:
  topology:
    bounds: { x: 0, y: 0, width: 1000, height: 1000 }
    grid: { cols: 2, rows: 1 }
`;

/** Applies a manifest through the API (`POST /v1/worlds`) as an admin whose token it stores. */
export async function applyWorld(deps: Deps, manifest: string = TWO_CELL_WORLD): Promise<ApiResponse> {
  await storeToken(deps.store, 'admin', { name: 'admin', role: 'admin', tenant: null, createdBy: 'test' }, new Date());
  return new ApiRouter(deps).handle({
    method: 'POST',
    path: '/v1/worlds',
    query: {},
    headers: { authorization: 'Bearer admin', 'content-type': 'application/yaml' },
    body: undefined,
    rawBody: Buffer.from(manifest),
  });
}

/** Splits `cell` of world `w` through the API (`POST …/cells/{cell}:split`) as an operator whose token it stores. */
export async function splitCell(deps: Deps, cell: string): Promise<ApiResponse> {
  await storeToken(deps.store, 'op', { name: 'op', role: 'operator', tenant: null, createdBy: 'test' }, new Date());
  return new ApiRouter(deps).handle({
    method: 'POST',
    path: `/v1/worlds/w/cells/${cell}:split`,
    query: {},
    headers: { authorization: 'Bearer op', 'content-type': 'application/json' },
    body: {},
    rawBody: Buffer.from('{}'),
  });
}

/** Agent `a`'s report about `cell` in world `w`: incarnation 1, sent now, unless `r` says otherwise. */
export function agentReport(r: Partial<AgentReport> & Pick<AgentReport, 'kind' | 'cell'>): AgentReport {
  return AgentReportSchema.parse({
    agentId: 'a',
    world: 'w',
    incarnation: 1,
    at: new Date().toISOString(),
    endpoint: `http://fake.invalid/${r.cell}`,
    correlationId: `corr-${r.cell}`,
    ...r,
  });
}

/** Agent `a`'s `ready` report for incarnation 1 of `cell` in world `w`. */
export function readyReport(cell: string, at: string = new Date().toISOString()): AgentReport {
  return agentReport({ kind: 'ready', cell, at });
}
