import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PubSub, type Message } from '@google-cloud/pubsub';
import Table from 'cli-table3';
import { z } from 'zod';
import {
  FUNCTIONS,
  OperationDocSchema,
  RoutingTableSchema,
  TOPICS,
  pollUntil,
  sleep,
  type OperationDoc,
  type OperationState,
} from '@fleetforge/shared';
import { ApiClient } from '../ffctl/client';
import { runLoad } from '../load/generator';
import { ROOT, startHarness, type Harness } from '../e2e/harness';
import { agentStateDir, compare, settled, snapshot, type ChaosRow, type WorldSnapshot } from './observe';

/**
 * Chaos on the real stack (emulators, functions, agent, cell processes, Redis): each
 * scenario breaks one component while a world holds sessions, then checks the
 * promises: no session lost, no cell replaced that was not dead, no orphan process,
 * the cells still partition the world, every operation Completed or RolledBack.
 * A table of every scenario is printed at the end and written to
 * `bench-results/chaos-<stall>s.json`.
 *
 * Stalls last FF_CHAOS_STALL_SECONDS (default 30: twice the 15 s silence threshold,
 * and as long as the supervisor's liveness budget for the agent); run
 * `FF_CHAOS_STALL_SECONDS=120 npm run chaos` for the two-minute stalls.
 */
const STALL_S = z.coerce.number().int().min(1).max(600).default(30).parse(process.env.FF_CHAOS_STALL_SECONDS);
const WORLD = 'chaos';
const SESSIONS = 400;
const SETTLE_MS = 120_000;

const MANIFEST = `apiVersion: fleetforge.dev/v1
kind: World
metadata:
  name: ${WORLD}
spec:
  topology:
    bounds: { x: 0, y: 0, width: 1000, height: 1000 }
    grid: { cols: 2, rows: 2 }
  capacity: { sessions: 5000, cpuMillis: 1000, memoryMiB: 512 }
  # Thresholds no load here reaches: only the scenarios split and merge.
  scaling:
    splitSessions: 4000
    mergeSessions: 0
    splitSustainSeconds: 5
    mergeSustainSeconds: 30
    cooldownSeconds: 0
    maxCells: 16
    minCellSize: 16
    # The default 10 s is short for a loaded 2-core machine with an agent that was just restarted.
    readinessTimeoutSeconds: 60
  # Splits take warm cells: the agent-kill scenarios cover adopting warm-born cells and replacing the pool.
  warmPool: { size: 4 }
`;

const OpResponse = z.object({ operation: OperationDocSchema });
const Ops = z.object({ items: z.array(OperationDocSchema) });
const TERMINAL: OperationState[] = ['Completed', 'RolledBack'];
const ORDER: OperationState[] = ['Planned', 'ChildrenStarting', 'ChildrenReady', 'HandingOff', 'Completed'];

describe('chaos on the running stack', () => {
  let h: Harness;
  let api: ApiClient;
  const rows: ChaosRow[] = [];
  const snap = () => snapshot(api, WORLD, agentStateDir(h.stateDir));

  /** Whether the agent answers its health probe (after a kill it may be in the supervisor's restart backoff). */
  const agentUp = async () => {
    const url = h.stack.file.metrics.agent!.replace(/\/metrics$/, '/healthz');
    return (await fetch(url, { signal: AbortSignal.timeout(2000) }).catch(() => undefined))?.ok === true;
  };

  /**
   * Waits for the world to settle with the expected sessions and the agent to be up;
   * returns the last snapshot either way (callers assert).
   */
  const settle = async (expect = SESSIONS): Promise<WorldSnapshot> => {
    const deadline = Date.now() + SETTLE_MS;
    for (;;) {
      const s = await snap().catch(() => undefined);
      if (s && ((settled(s, expect) && (await agentUp())) || Date.now() > deadline)) return s;
      await sleep(500);
    }
  };

  const signal = (component: string, sig: NodeJS.Signals) => {
    const pid = h.stack.pids()[component];
    if (!pid) throw new Error(`no ${component} in the stack (have ${Object.keys(h.stack.pids()).join(', ')})`);
    // Every component runs in its own process group: the signal reaches its children too (the emulators' JVMs).
    process.kill(-pid, sig);
    return pid;
  };

  /** Runs one scenario between two settled snapshots and records its row. */
  const scenario = async (name: string, fault: () => Promise<string>) => {
    const before = await settle();
    expect(settled(before, SESSIONS)).toBe(true);
    const t0 = performance.now();
    const note = await fault();
    const after = await settle();
    const row = compare(name, before, after, { seconds: Math.round((performance.now() - t0) / 100) / 10, note });
    rows.push(row);
    process.stdout.write(`chaos: ${JSON.stringify(row)}\n`);
    return { before, after, row };
  };

  const expectHealthy = (r: { after: WorldSnapshot; row: ChaosRow }, replaced = 0) => {
    expect(r.row).toMatchObject({ lost: 0, duplicates: 0, orphans: 0, partition: true, cellsReplaced: replaced });
    expect(r.after.unreachable).toEqual([]);
    expect(r.after.ops.every((o) => TERMINAL.includes(o.state))).toBe(true);
    expect(r.after.phase).toBe('Ready');
  };

  /** Pauses a component for the stall, checking on the way that the world is marked Degraded, never repaired. */
  const stall = async (component: string): Promise<string> => {
    const cellsBefore = (await snap()).cells;
    signal(component, 'SIGSTOP');
    let degraded = false;
    let changed = false;
    try {
      const end = Date.now() + STALL_S * 1000;
      while (Date.now() < end) {
        await sleep(2000);
        // The API itself may be what is paused: then there is nothing to read.
        if (component === 'function:api') continue;
        const s = await snap().catch(() => undefined);
        if (!s) continue;
        degraded ||= s.degraded;
        changed ||= JSON.stringify(s.cells) !== JSON.stringify(cellsBefore);
      }
    } finally {
      // The agent may have been killed and restarted by its supervisor meanwhile: SIGCONT whatever runs now.
      try {
        signal(component, 'SIGCONT');
      } catch {
        /* already replaced */
      }
    }
    expect(changed).toBe(false);
    return `${component} paused ${STALL_S}s; world ${degraded ? 'went Degraded, nothing restarted' : 'never Degraded'}`;
  };

  const ops = async () => (await api.request('GET', `/v1/worlds/${WORLD}/operations`, Ops)).items;
  const waitOp = (id: string, until: (o: OperationDoc) => boolean, timeoutMs = 60_000) =>
    pollUntil(
      async () => (await ops().catch(() => [])).find((o) => o.id === id),
      (op) => op !== undefined && until(op),
      { timeoutMs, intervalMs: 50 },
    );

  /** Starts an operation and SIGKILLs the agent once it has reached `step`; the supervisor restarts the agent. */
  const killAgentAt = async (start: () => Promise<OperationDoc>, step: OperationState) => {
    const op = await start();
    const at = await waitOp(op.id, (o) => TERMINAL.includes(o.state) || ORDER.indexOf(o.state) >= ORDER.indexOf(step));
    const oldPid = signal('agent', 'SIGKILL');
    const done = await waitOp(op.id, (o) => TERMINAL.includes(o.state), SETTLE_MS);
    expect(done?.state === 'Completed' || done?.state === 'RolledBack').toBe(true);
    // The supervisor brings a new agent up (after its crash-loop backoff, which grows with each kill).
    await pollUntil(
      () => h.stack.pids().agent,
      (pid) => pid !== oldPid,
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    expect(h.stack.pids().agent).not.toBe(oldPid);
    return { op: done!, killedAt: at?.state ?? 'unknown' };
  };

  const leaf = async () => {
    const s = await snap();
    return Object.keys(s.cells).sort()[0]!;
  };
  const split = async (cell: string) =>
    (
      await api.request('POST', `/v1/worlds/${WORLD}/cells/${encodeURIComponent(cell)}:split`, OpResponse, {
        reason: 'chaos',
      })
    ).operation;
  const merge = async (cells: string[]) =>
    (await api.request('POST', `/v1/worlds/${WORLD}/cells:merge`, OpResponse, { cells, reason: 'chaos' })).operation;

  beforeAll(async () => {
    h = await startHarness();
    api = new ApiClient({ api: h.stack.file.api, token: h.stack.token, source: 'chaos' });
    const manifest = join(h.stateDir, 'chaos.yaml');
    writeFileSync(manifest, MANIFEST);
    expect((await h.ffctl(['world', 'apply', '-f', manifest])).code).toBe(0);
    expect((await h.ffctl(['world', 'wait', WORLD, '--ready', '--timeout', '60s'])).code).toBe(0);
    const routing = () => api.request('GET', `/v1/worlds/${WORLD}/routing`, RoutingTableSchema);
    const load = await runLoad(
      { world: WORLD, sessions: SESSIONS, rampMs: 1000, seed: 11, moveFraction: 0 },
      { routing },
    );
    expect(load.present).toBe(SESSIONS);
  }, 180_000);

  afterAll(async () => {
    if (rows.length > 0) {
      const table = new Table({
        head: [
          'SCENARIO',
          'BEFORE',
          'AFTER',
          'LOST',
          'DUP',
          'REPLACED',
          'ORPHANS',
          'PARTITION',
          'OPERATIONS',
          'SECONDS',
        ],
        style: { head: [], border: [] },
        // kubectl-style: no rules between rows.
        chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
      });
      for (const r of rows) {
        table.push([
          r.scenario,
          r.sessionsBefore,
          r.sessionsAfter,
          r.lost,
          r.duplicates,
          r.cellsReplaced,
          r.orphans,
          r.partition ? 'exact' : 'BROKEN',
          r.operations,
          r.seconds,
        ]);
      }
      process.stdout.write(`\nchaos report (stalls of ${STALL_S}s)\n${table.toString()}\n`);
      mkdirSync(join(ROOT, 'bench-results'), { recursive: true });
      writeFileSync(
        join(ROOT, 'bench-results', `chaos-${STALL_S}s.json`),
        `${JSON.stringify({ stallSeconds: STALL_S, sessions: SESSIONS, at: new Date().toISOString(), rows }, null, 2)}\n`,
      );
    }
    await h?.stack.stop();
  }, 90_000);

  it('has durable sessions on this stack (Redis started)', () => {
    expect(h.stack.file.redis).toMatch(/^redis:\/\//);
  });

  it(`agent paused (SIGSTOP) for the stall: same cells, same incarnations, no session lost`, async () => {
    const r = await scenario(`agent SIGSTOP ${STALL_S}s`, () => stall('agent'));
    expectHealthy(r);
  }, 300_000);

  for (const fn of Object.values(FUNCTIONS).map((f) => f.name)) {
    it(`function ${fn} paused for the stall: nothing restarted, nothing lost`, async () => {
      const r = await scenario(`${fn} SIGSTOP ${STALL_S}s`, () => stall(`function:${fn}`));
      expectHealthy(r);
    }, 300_000);
  }

  it('Pub/Sub emulator paused for the stall: nothing restarted, nothing lost', async () => {
    const r = await scenario(`pubsub emulator SIGSTOP ${STALL_S}s`, () => stall('pubsub-emulator'));
    expectHealthy(r);
  }, 300_000);

  it('a cell killed (SIGKILL) is replaced and its sessions are restored from the checkpoint', async () => {
    const r = await scenario('cell SIGKILL', async () => {
      const s = await snap();
      const cell = Object.keys(s.cells).sort()[0]!;
      const routing = await api.request('GET', `/v1/worlds/${WORLD}/routing`, RoutingTableSchema);
      const endpoint = routing.cells.find((c) => c.id === cell)!.endpoint;
      const info = z.object({ pid: z.number() }).parse(await (await fetch(`${endpoint}/v1/info`)).json());
      process.kill(info.pid, 'SIGKILL');
      return `${cell} (pid ${info.pid}) killed`;
    });
    expectHealthy(r, 1);
  }, 300_000);

  // Completed: an operation completes once its sessions are handed off; the kill lands while
  // its sources are still being stopped, and the stop must still happen (settle checks it).
  for (const step of ['ChildrenStarting', 'ChildrenReady', 'HandingOff', 'Completed'] as const) {
    it(`agent killed (SIGKILL) at ${step} of a split, and of the merge back: each ends Completed or RolledBack, nothing lost, no source left running`, async () => {
      let note = '';
      const r1 = await scenario(`agent SIGKILL at split ${step}`, async () => {
        const parent = await leaf();
        const { op, killedAt } = await killAgentAt(() => split(parent), step);
        note = op.state === 'Completed' ? op.targets.map((t) => t.id).join(',') : '';
        return `split of ${parent}: agent killed at ${killedAt}, operation ${op.state}`;
      });
      expectHealthy(r1);
      if (!note) return; // rolled back: nothing to merge
      const r2 = await scenario(`agent SIGKILL at merge ${step}`, async () => {
        const { op, killedAt } = await killAgentAt(() => merge(note.split(',')), step);
        return `merge of ${note}: agent killed at ${killedAt}, operation ${op.state}`;
      });
      expectHealthy(r2);
    }, 600_000);
  }

  it('every command and report of a split delivered again, late and out of order, changes nothing', async () => {
    const pubsub = new PubSub({ projectId: h.stack.file.project });
    const topics = [TOPICS.agentCommands, TOPICS.agentReports, TOPICS.worldReconcile];
    const captured: Array<{ topic: string; data: Buffer; attributes: Record<string, string> }> = [];
    const subs = await Promise.all(
      topics.map(async (t) => {
        const [sub] = await pubsub.topic(t).createSubscription(`chaos-capture-${t}`);
        sub.on('message', (m: Message) => {
          captured.push({ topic: t, data: m.data, attributes: { ...m.attributes } });
          m.ack();
        });
        return sub;
      }),
    );
    try {
      await settle(); // the agent may still be coming back from the last kill
      const parent = await leaf();
      // The split whose messages are replayed; on a loaded machine one may roll back, so up to three tries.
      let done: OperationDoc | undefined;
      for (let attempt = 1; attempt <= 3 && done?.state !== 'Completed'; attempt++) {
        const op = await split(parent);
        done = await waitOp(op.id, (o) => TERMINAL.includes(o.state), SETTLE_MS);
        if (done?.state !== 'Completed') await settle();
      }
      expect(done?.state).toBe('Completed');
      const r = await scenario('split messages replayed late, reversed', async () => {
        await sleep(2000); // the last reports of the split reach the capture too
        for (const m of [...captured].reverse()) {
          await pubsub.topic(m.topic).publishMessage({ data: m.data, attributes: m.attributes });
        }
        await sleep(10_000);
        return `${captured.length} messages of the split of ${parent} published again, newest first`;
      });
      expectHealthy(r);
      expect(captured.length).toBeGreaterThan(5);
      // Nothing moved: the replayed split did not start or stop anything.
      expect(r.after.cells).toEqual(r.before.cells);
    } finally {
      for (const s of subs) await s.delete().catch(() => undefined);
      await pubsub.close();
    }
  }, 600_000);
});
