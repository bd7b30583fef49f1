import { readFileSync } from 'node:fs';
import { z } from 'zod';
import {
  CellListSchema,
  LifecycleEventSchema,
  OperationDocSchema,
  RoutingTableSchema,
  WorldViewSchema,
  sleep,
  type CellView,
  type LifecycleEvent,
  type OperationDoc,
} from '@fleetforge/shared';
import type { ApiClient } from '../ffctl/client';
import { runLoad, type LoadSummary } from '../load/generator';

/** One row of the demo's summary. */
export interface DemoPhase {
  phase: string;
  ok: boolean;
  cellsBefore: number;
  cellsAfter: number;
  seconds: number;
  sessionsBefore: number;
  sessionsAfter: number;
  note: string;
}

export interface DemoReport {
  world: string;
  seed: number;
  phases: DemoPhase[];
  load: LoadSummary[];
  ok: boolean;
}

export interface DemoOptions {
  manifestPath: string;
  seed: number;
  log: (line: string) => void;
}

const Ops = z.object({ items: z.array(OperationDocSchema) });
const Events = z.object({ items: z.array(LifecycleEventSchema) });

/**
 * The elasticity story, scripted against a running stack through its API: apply →
 * ramp a hotspot → split, and a second split → a blocked attempt in cool-down →
 * ramp down → merges → kill a cell → recovery → manual split and merge. Load
 * phases are deterministic for a seed; every phase checks what it claims.
 */
/** A re-run starts from a clean slate: the demo world deleted and gone (up to 30 s). */
export async function resetDemoWorld(api: ApiClient, world = 'world-demo'): Promise<void> {
  await api.request('DELETE', `/v1/worlds/${world}`, z.unknown()).catch(() => undefined);
  for (let i = 0; i < 120; i++) {
    const gone = await api.request('GET', `/v1/worlds/${world}`, z.unknown()).then(
      () => false,
      () => true,
    );
    if (gone) return;
    await sleep(250);
  }
}

export async function runDemo(api: ApiClient, opts: DemoOptions): Promise<DemoReport> {
  const manifest = readFileSync(opts.manifestPath, 'utf8');
  const world = /name:\s*([a-z0-9-]+)/.exec(manifest)?.[1] ?? 'world-demo';
  const w = encodeURIComponent(world);
  const phases: DemoPhase[] = [];
  const loads: LoadSummary[] = [];
  const live = async (): Promise<CellView[]> =>
    (await api.request('GET', `/v1/worlds/${w}/cells`, CellListSchema)).items.filter(
      (c) => c.state !== 'Terminated' && c.state !== 'Failed',
    );
  const ops = async (): Promise<OperationDoc[]> => (await api.request('GET', `/v1/worlds/${w}/operations`, Ops)).items;
  const events = async (type: string): Promise<LifecycleEvent[]> =>
    (await api.request('GET', `/v1/events?world=${w}&type=${type}&limit=1000`, Events)).items;
  const sessionsOf = (cells: CellView[]) => cells.reduce((n, c) => n + c.sessions, 0);
  const until = async <T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await probe();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`demo: ${what} did not happen within ${timeoutMs / 1000}s`);
      await sleep(250);
    }
  };
  const phase = async (name: string, body: () => Promise<{ ok: boolean; note: string }>): Promise<void> => {
    const before = await live().catch(() => []);
    const t0 = performance.now();
    opts.log(`▶ ${name}`);
    const r = await body();
    // Cells report sessions once a second: let the last change reach the control plane.
    await sleep(1500);
    const after = await live();
    phases.push({
      phase: name,
      ok: r.ok,
      cellsBefore: before.length,
      cellsAfter: after.length,
      seconds: Math.round((performance.now() - t0) / 100) / 10,
      sessionsBefore: sessionsOf(before),
      sessionsAfter: sessionsOf(after),
      note: r.note,
    });
    opts.log(`  ${r.ok ? '✓' : '✗'} ${r.note}`);
  };
  const load = async (sessions: number, rampMs: number, hotspot?: { x: number; y: number; r: number }) => {
    const s = await runLoad(
      { world, sessions, rampMs, seed: opts.seed, ...(hotspot ? { hotspot } : {}) },
      { routing: () => api.request('GET', `/v1/worlds/${w}/routing`, RoutingTableSchema) },
    );
    loads.push(s);
    return s;
  };
  const completed = async (kind: 'split' | 'merge', atLeast: number) =>
    (await ops()).filter((o) => o.kind === kind && o.state === 'Completed').length >= atLeast;

  await phase('apply world', async () => {
    await api.request('POST', '/v1/worlds', z.unknown(), { text: manifest, contentType: 'application/yaml' });
    const ready = await until('world Ready', 30_000, async () => {
      const v = await api.request('GET', `/v1/worlds/${w}`, WorldViewSchema);
      return v.status.ready ? v : undefined;
    });
    return { ok: true, note: `${ready.status.cellsActive} cells Ready` };
  });

  await phase('ramp a hotspot → split', async () => {
    const s = await load(900, 6_000, { x: 150, y: 150, r: 60 });
    await until('a split', 30_000, async () => ((await completed('split', 1)) ? true : undefined));
    return { ok: s.present === 900 && s.failures === 0, note: `900 sessions around (150,150); first split done` };
  });

  await phase('second split (after cool-down)', async () => {
    await until('a second split', 45_000, async () => ((await completed('split', 2)) ? true : undefined));
    const blocked = (await events('ScalingBlocked')).filter((e) => e.reason === 'Cooldown');
    const split = (await events('CellSplit')).map((e) => e.cells[0]).join(', ');
    return {
      ok: blocked.length > 0,
      note: `split ${split}; ${blocked.length} attempt(s) blocked by the cool-down first`,
    };
  });

  await phase('ramp down → merge', async () => {
    const s = await load(0, 5_000);
    await until('merges back to 4 cells', 90_000, async () => ((await live()).length === 4 ? true : undefined));
    const merges = (await ops()).filter((o) => o.kind === 'merge' && o.state === 'Completed').length;
    return { ok: s.present === 0 && merges >= 2, note: `${merges} merges; back to the initial 4 cells` };
  });

  await phase('kill a cell → recovery', async () => {
    await load(200, 2_000, { x: 750, y: 750, r: 80 });
    const victim = (await live()).find((c) => c.boundary.x === 500 && c.boundary.y === 500)!;
    const info = z.object({ pid: z.number() }).parse(await (await fetch(`${victim.endpoint}/v1/info`)).json());
    const t0 = Date.now();
    process.kill(info.pid, 'SIGKILL');
    const recovered = await until('CellRecovered', 30_000, async () =>
      (await events('CellRecovered')).find((e) => e.cells.includes(victim.id) && Date.parse(e.time) >= t0 - 1000),
    );
    // With durable sessions the replacement restored them; without, the load generator's clients re-join what the crash lost.
    const replacement = (await live()).find((c) => c.id === victim.id);
    const restored = replacement?.endpoint
      ? z.object({ restored: z.number() }).parse(await (await fetch(`${replacement.endpoint}/v1/info`)).json()).restored
      : 0;
    const s = await load(200, 1_000, { x: 750, y: 750, r: 80 });
    return {
      ok: s.present === 200,
      note: `${victim.id} killed; replaced in ${((Date.parse(recovered.time) - t0) / 1000).toFixed(2)}s; ${restored} sessions restored from the checkpoint, ${s.joined + s.rejoinedAfterLoss} lost and re-joined`,
    };
  });

  await phase('manual split and merge (operator override)', async () => {
    const target = (await live()).find((c) => c.boundary.x === 0 && c.boundary.y === 500)!;
    const OpResponse = z.object({ operation: OperationDocSchema });
    const split = await api.request('POST', `/v1/worlds/${w}/cells/${target.id}:split`, OpResponse, {
      reason: 'demo override',
    });
    const done = await until('manual split', 30_000, async () =>
      (await ops()).find((o) => o.id === split.operation.id && (o.state === 'Completed' || o.state === 'RolledBack')),
    );
    const children = done.targets.map((t) => t.id);
    await until('children out of cool-down', 30_000, async () => {
      const m = await api
        .request('POST', `/v1/worlds/${w}/cells:merge`, OpResponse, { cells: children, reason: 'demo override' })
        .catch(() => undefined);
      return m;
    }).then((m) =>
      until('manual merge', 30_000, async () =>
        (await ops()).find((o) => o.id === m.operation.id && (o.state === 'Completed' || o.state === 'RolledBack')),
      ),
    );
    const overrides = (await ops()).filter((o) => o.cause === 'ManualOverride' && o.state === 'Completed').length;
    return {
      ok: done.state === 'Completed' && overrides >= 2,
      note: `${target.id} split into ${children.join(', ')} and merged back`,
    };
  });

  await load(0, 1_000);
  return { world, seed: opts.seed, phases, load: loads, ok: phases.every((p) => p.ok) };
}
