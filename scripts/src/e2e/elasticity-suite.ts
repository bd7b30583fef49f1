import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import {
  CellViewSchema,
  LifecycleEventSchema,
  OperationDocSchema,
  isPartition,
  overlaps,
  sleep,
} from '@fleetforge/shared';
import { runDemo, type DemoReport } from '../demo/demo';
import { ApiClient } from '../ffctl/client';
import type { DriverName } from '../stack/config';
import { ROOT, startHarness, type Harness } from './harness';

/** The labels the Kubernetes driver puts on cell pods (agent/src/drivers/kubernetes-driver.ts). */
const LABELS = { role: 'fleetforge.dev/role', cell: 'fleetforge.dev/cell', incarnation: 'fleetforge.dev/incarnation' };

const Cells = z.array(CellViewSchema);
const Ops = z.array(OperationDocSchema);
const Events = z.array(LifecycleEventSchema);

/**
 * The elasticity story on a running stack, as the demo tells it, then the
 * invariants that must hold after it: no session lost, cells partition the world,
 * every operation finished, the correlation chain of a split is complete, and the
 * operator paths (config, unsafe merge) answer as documented. The same suite runs
 * on each driver: cells as local processes, and cells as Pods on a real API server.
 */
export function describeElasticity(driver: DriverName, o: { readinessTimeoutSeconds?: number } = {}): void {
  describe(`elasticity on the running stack (${driver} driver)`, () => {
    // Each check runs ffctl processes: seconds apiece on a loaded machine, over Jest's 5 s default.
    jest.setTimeout(60_000);
    let h: Harness;
    let report: DemoReport;
    const json = async <S extends z.ZodType>(schema: S, args: string[]) => {
      const r = await h.ffctl([...args, '-o', 'json']);
      expect(r.stderr).toBe('');
      return schema.parse(JSON.parse(r.stdout));
    };

    beforeAll(async () => {
      h = await startHarness({ driver });
      const api = new ApiClient({ api: h.stack.file.api, token: h.stack.token, source: 'test' });
      report = await runDemo(api, {
        manifestPath: demoManifest(h.stateDir, o.readinessTimeoutSeconds),
        seed: 7,
        log: () => undefined,
      });
      // How long each phase took on this driver (to compare drivers in the test output).
      const phases = report.phases.map((p) => `${p.phase} ${p.seconds}s (${p.note})`);
      process.stdout.write(`demo on the ${driver} driver: ${phases.join('; ')}\n`);
    }, 420_000);
    afterAll(async () => {
      const kubeconfig = h?.kube?.state.kubeconfig;
      await h?.stack.stop();
      try {
        // The agent leaves its pods running (a restarted agent adopts them); the stack deletes them at stop.
        if (kubeconfig) expect(await cellPods(kubeconfig)).toEqual([]);
      } finally {
        await h?.kube?.stop();
      }
    }, 90_000);

    it('runs every phase of the demo', () => {
      expect(report.phases.map((p) => [p.phase, p.ok, p.note])).toEqual(
        report.phases.map((p) => [p.phase, true, p.note]),
      );
      expect(report.phases.map((p) => p.phase)).toEqual([
        'apply world',
        'ramp a hotspot → split',
        'second split (after cool-down)',
        'ramp down → merge',
        'kill a cell → recovery',
        'manual split and merge (operator override)',
      ]);
    });

    it('loses no session in a split or merge', () => {
      for (const s of report.load) {
        expect(s.failures).toBe(0);
        expect(s.duplicates).toBe(0);
        expect(s.present).toBe(s.target);
      }
    });

    it('ends with cells that partition the world and operations that all finished', async () => {
      const cells = (await json(Cells, ['cells', 'world-demo'])).filter((c) => c.state !== 'Terminated');
      expect(cells.every((c) => c.state === 'Ready')).toBe(true);
      expect(
        isPartition(
          { x: 0, y: 0, width: 1000, height: 1000 },
          cells.map((c) => c.boundary),
        ),
      ).toBe(true);
      const ops = await json(Ops, ['ops', 'world-demo']);
      expect(ops.filter((o) => o.state !== 'Completed' && o.state !== 'RolledBack')).toEqual([]);
      const splits = ops.filter((o) => o.kind === 'split' && o.state === 'Completed');
      expect(splits.length).toBeGreaterThanOrEqual(3);
      for (const op of splits) {
        // Children partition their parent exactly and do not overlap.
        const rects = op.targets.map((t) => t.boundary);
        expect(rects.every((a, i) => rects.every((b, j) => i === j || !overlaps(a, b)))).toBe(true);
      }
    });

    it('chains a split by its correlation id: started, split, and the commands in between', async () => {
      const op = (await json(Ops, ['ops', 'world-demo'])).find((o) => o.kind === 'split' && o.cause === 'Threshold')!;
      const chain = await json(Events, ['events', '--correlation', op.correlationId]);
      expect(chain.map((e) => e.type)).toEqual(expect.arrayContaining(['OperationStarted', 'CellSplit']));
      const split = chain.find((e) => e.type === 'CellSplit')!;
      expect(split.cells[0]).toBe(op.sources[0]);
      expect(split.data).toMatchObject({ operation: op.id, sessionsMoved: op.sessionsMoved });
    });

    it('reports the counters on /metrics', async () => {
      const text = await (await fetch(`${h.stack.file.api}/metrics`)).text();
      const value = (name: string) =>
        Number(new RegExp(`^${name}\\{world="world-demo"\\} (\\S+)$`, 'm').exec(text)?.[1]);
      expect(value('fleetforge_splits_total')).toBeGreaterThanOrEqual(3);
      expect(value('fleetforge_merges_total')).toBeGreaterThanOrEqual(3);
      expect(value('fleetforge_split_cooldown_blocks_total')).toBeGreaterThanOrEqual(1);
      expect(value('fleetforge_recoveries_total')).toBeGreaterThanOrEqual(1);
      expect(value('fleetforge_sessions_reassigned_total')).toBeGreaterThan(0);
      expect(text).toMatch(/^fleetforge_split_duration_seconds_count \d+/m);
    });

    if (driver === 'process') {
      it("keeps the demo world's warm pool, and splits start their children on it", async () => {
        const agent = await (await fetch(h.stack.file.metrics.agent!)).text();
        const starts = (source: string) =>
          Number(
            new RegExp(`^fleetforge_agent_cell_starts_total\\{[^}]*source="${source}"[^}]*\\} (\\S+)$`, 'm').exec(
              agent,
            )?.[1] ?? 0,
          );
        expect(agent).toMatch(/^fleetforge_agent_warm_target\{driver="process"\} 4$/m);
        // The 4 initial cells start cold (the pool fills after); the splits' children then take warm cells.
        expect(starts('warm')).toBeGreaterThanOrEqual(4);
        const api = await (await fetch(`${h.stack.file.api}/metrics`)).text();
        expect(api).toMatch(/^fleetforge_agent_warm_cells\{agent="[^"]+"\} [1-4]$/m);
      });
    }

    it('refuses an unsafe merge with 409 and the reason', async () => {
      const r = await h.ffctl(['cell', 'merge', 'world-demo', 'r0c0', 'r1c1']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/CONFLICT \(HTTP 409\): cannot merge r0c0, r1c1/);
    });

    it('changes thresholds live with a ConfigReload event naming the keys, and rejects a bad value', async () => {
      const set = await h.ffctl(['config', 'set', 'scaling.splitSessions=600', 'scaling.cooldownSeconds=5']);
      expect(set.stdout).toContain('changed scaling.cooldownSeconds, scaling.splitSessions');
      const reload = (await json(Events, ['events', '--type', 'ConfigReload'])).at(-1)!;
      expect(reload.data).toMatchObject({ changedKeys: ['scaling.cooldownSeconds', 'scaling.splitSessions'] });
      const bad = await h.ffctl(['config', 'set', 'scaling.splitSessions=-3']);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain('scaling.splitSessions');
      await h.ffctl(['config', 'unset', 'scaling.splitSessions', 'scaling.cooldownSeconds']);
    });

    if (driver === 'process') {
      // The engine is the same on every driver: once is enough for a test that waits this long.
      it('merges siblings cold for longer than the 60-sample load window keeps, judging the older part on its history', async () => {
        const sustain = 75;
        await h.ffctl(['config', 'set', `scaling.mergeSustainSeconds=${sustain}`]);
        try {
          const cell = (await json(Cells, ['cells', 'world-demo'])).find((c) => c.state === 'Ready')!;
          // No load is running: the children stay empty, cold from their first sample.
          const split = OperationDocSchema.parse(
            JSON.parse((await h.ffctl(['cell', 'split', 'world-demo', cell.id, '--wait', '-o', 'json'])).stdout),
          );
          const children = split.targets.map((t) => t.id).sort();
          let merge: z.infer<typeof OperationDocSchema> | undefined;
          for (let i = 0; i < 75 && !merge; i++) {
            await sleep(2000);
            merge = (await json(Ops, ['ops', 'world-demo'])).find(
              // Child ids repeat (the demo split and merged this cell before): only a merge after this split.
              (o) =>
                o.kind === 'merge' && o.createdAt > split.createdAt && [...o.sources].sort().join() === children.join(),
            );
          }
          expect(merge).toBeDefined();
          // Not before the children had been cold for the whole sustain (they were created after the split).
          expect(Date.parse(merge!.createdAt) - Date.parse(split.createdAt)).toBeGreaterThanOrEqual(
            (sustain - 1) * 1000,
          );
          expect(merge!.targets.map((t) => t.id)).toEqual([cell.id]);
        } finally {
          await h.ffctl(['config', 'unset', 'scaling.mergeSustainSeconds']);
        }
      }, 240_000);
    }

    if (driver === 'kubernetes') {
      it('runs every live cell as a Running, Ready pod of its incarnation, and nothing else', async () => {
        const cells = (await json(Cells, ['cells', 'world-demo'])).filter((c) => c.state !== 'Terminated');
        const pods = await cellPods(h.kube!.state.kubeconfig);
        const live = pods.filter((p) => !p.metadata?.deletionTimestamp && p.status?.phase === 'Running');
        expect(
          live.map((p) => `${p.metadata!.labels![LABELS.cell]}#${p.metadata!.labels![LABELS.incarnation]}`).sort(),
        ).toEqual(cells.map((c) => `${c.id}#${c.incarnation}`).sort());
        expect(live.every((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))).toBe(
          true,
        );
      });
    }
  });
}

/** The cell pods on a Kubernetes tier, as its admin sees them. */
async function cellPods(kubeconfig: string): Promise<V1Pod[]> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const list = await kc.makeApiClient(CoreV1Api).listPodForAllNamespaces({ labelSelector: `${LABELS.role}=cell` });
  return list.items;
}

/** The demo world, with another readiness timeout when one is given (a copy in `dir`). */
function demoManifest(dir: string, readinessTimeoutSeconds: number | undefined): string {
  const path = join(ROOT, 'examples', 'worldspec-demo.yaml');
  if (readinessTimeoutSeconds === undefined) return path;
  const doc = parseDocument(readFileSync(path, 'utf8'));
  doc.setIn(['spec', 'scaling', 'readinessTimeoutSeconds'], readinessTimeoutSeconds);
  const copy = join(dir, 'worldspec-demo.yaml');
  writeFileSync(copy, doc.toString());
  return copy;
}
