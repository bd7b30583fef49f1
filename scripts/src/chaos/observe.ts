import { join } from 'node:path';
import { z } from 'zod';
import { cellRecords } from '@fleetforge/agent';
import {
  CellListSchema,
  OperationDocSchema,
  RoutingTableSchema,
  SessionSchema,
  WorldViewSchema,
  isDegraded,
  isPartition,
  type OperationDoc,
} from '@fleetforge/shared';
import type { ApiClient } from '../ffctl/client';

const Ops = z.object({ items: z.array(OperationDocSchema) });
const Sessions = z.object({ items: z.array(SessionSchema) });

/** What the chaos suite reads of one world at one moment, from the API, the cells and the agent's records. */
export interface WorldSnapshot {
  /** Active cells: id → incarnation. */
  cells: Record<string, number>;
  /** Distinct session ids found across the routed cells. */
  sessions: Set<string>;
  /** Session ids found in more than one cell. */
  duplicates: number;
  /** Routed cells that did not answer the session listing. */
  unreachable: string[];
  /** The routed cells cut the world exactly (no gap, no overlap). */
  partition: boolean;
  ops: OperationDoc[];
  phase: string;
  degraded: boolean;
  /** Cell processes alive that no active cell accounts for (world, cell, incarnation). */
  orphans: string[];
  /** Cells a finished split or merge is still stopping (Draining): cleanup not yet done. */
  stopping: string[];
}

/** Reads a {@link WorldSnapshot}. `agentStateDir` is where the process driver records its cells. */
export async function snapshot(api: ApiClient, world: string, agentStateDir: string): Promise<WorldSnapshot> {
  const w = encodeURIComponent(world);
  const view = await api.request('GET', `/v1/worlds/${w}`, WorldViewSchema);
  const list = await api.request('GET', `/v1/worlds/${w}/cells`, CellListSchema);
  const routing = await api.request('GET', `/v1/worlds/${w}/routing`, RoutingTableSchema);
  const ops = (await api.request('GET', `/v1/worlds/${w}/operations`, Ops)).items;
  const active = list.items.filter((c) => c.state !== 'Terminated' && c.state !== 'Failed');
  const cells = Object.fromEntries(active.map((c) => [c.id, c.incarnation]));
  const sessions = new Set<string>();
  let duplicates = 0;
  const unreachable: string[] = [];
  for (const c of routing.cells) {
    try {
      const r = await fetch(`${c.endpoint}/v1/sessions`, { signal: AbortSignal.timeout(5000) });
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      for (const s of Sessions.parse(await r.json()).items) {
        if (sessions.has(s.id)) duplicates += 1;
        sessions.add(s.id);
      }
    } catch {
      unreachable.push(c.id);
    }
  }
  const orphans = cellRecords(agentStateDir)
    .filter((r) => r.alive && r.world === world && cells[r.cell] !== r.incarnation)
    .map((r) => `${r.cell}#${r.incarnation} (pid ${r.pid})`);
  return {
    cells,
    sessions,
    duplicates,
    unreachable,
    partition: isPartition(
      routing.bounds,
      routing.cells.map((c) => c.boundary),
    ),
    ops,
    phase: view.status.phase,
    degraded: isDegraded(view.status),
    orphans,
    stopping: list.items.filter((c) => c.state === 'Draining').map((c) => `${c.id}#${c.incarnation}`),
  };
}

/**
 * A world at rest: Ready, not Degraded, every operation finished and its sources
 * stopped, every cell reachable, nothing orphaned.
 */
export function settled(s: WorldSnapshot, expectSessions: number): boolean {
  return (
    s.phase === 'Ready' &&
    !s.degraded &&
    s.ops.every((o) => o.state === 'Completed' || o.state === 'RolledBack') &&
    s.unreachable.length === 0 &&
    s.orphans.length === 0 &&
    s.stopping.length === 0 &&
    s.sessions.size === expectSessions
  );
}

/** One line of the chaos report. */
export interface ChaosRow {
  scenario: string;
  sessionsBefore: number;
  sessionsAfter: number;
  lost: number;
  duplicates: number;
  /** Cells whose incarnation changed, or that were replaced by an operation the scenario did not ask for. */
  cellsReplaced: number;
  orphans: number;
  partition: boolean;
  /** Operations of the scenario and how they ended. */
  operations: string;
  seconds: number;
  note: string;
}

/** Compares two snapshots of the same world into a report line. */
export function compare(
  scenario: string,
  before: WorldSnapshot,
  after: WorldSnapshot,
  o: { seconds: number; note: string },
): ChaosRow {
  const lost = [...before.sessions].filter((id) => !after.sessions.has(id)).length;
  const replaced = Object.entries(before.cells).filter(
    ([id, inc]) => after.cells[id] !== undefined && after.cells[id] !== inc,
  ).length;
  const known = new Set(before.ops.map((op) => op.id));
  const ops = after.ops.filter((op) => !known.has(op.id)).reverse();
  return {
    scenario,
    sessionsBefore: before.sessions.size,
    sessionsAfter: after.sessions.size,
    lost,
    duplicates: after.duplicates,
    cellsReplaced: replaced,
    orphans: after.orphans.length,
    partition: after.partition,
    operations: ops.map((op) => `${op.kind}:${op.state}`).join(' ') || '-',
    seconds: o.seconds,
    note: o.note,
  };
}

/** The agent's cell records folder inside a stack's state folder (scripts/src/stack/stack.ts). */
export const agentStateDir = (stackStateDir: string) => join(stackStateDir, 'agent');
