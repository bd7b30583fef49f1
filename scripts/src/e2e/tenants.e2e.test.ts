/**
 * Tenancy end to end, as an operator and a tenant admin would drive it with
 * ffctl: the stack on the Kubernetes driver (a private Kubernetes tier), then
 * the same commands against a stack on the process driver, which has no cluster.
 */
import { COLLECTIONS } from '@fleetforge/shared';
import { FirestoreStateStore } from '@fleetforge/functions/adapters';
import { startHarness, type Harness } from './harness';

jest.setTimeout(600_000);

describe('tenants on the Kubernetes tier', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ driver: 'kubernetes' });
  });
  afterAll(async () => {
    await h?.stop();
  });

  test('dev and standard tenants, feature flags by tier, kubeconfig once, upgrade, delete', async () => {
    const dev = await h.ffctl(['tenant', 'create', 'sample-dev', '--tier', 'dev', '--billing-id', 'acct-42']);
    expect(dev.stderr).toBe('');
    expect(dev.stdout).toMatch(/tenant\/sample-dev ready: dev tier, namespace tenant-sample-dev/);

    const std = await h.ffctl(['tenant', 'create', 'sample-std', '--tier', 'standard', '-o', 'json']);
    expect(std.code).toBe(0);
    const stdView = JSON.parse(std.stdout) as {
      status: {
        phase: string;
        readyMs: number;
        vcluster: { healthy: boolean };
        placements: Array<{ correlationId: string; nodes: string[] }>;
      };
    };
    expect(stdView.status.phase).toBe('Ready');
    expect(stdView.status.readyMs).toBeLessThan(90_000);
    expect(stdView.status.vcluster.healthy).toBe(true);
    expect(stdView.status.placements[0]?.nodes).toHaveLength(1);
    expect(stdView.status.placements[0]?.correlationId).toMatch(/\S/);

    const status = await h.ffctl(['tenant', 'status', 'sample-std']);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('healthy');

    // The kubeconfig is handed out once.
    const kc1 = await h.ffctl(['tenant', 'kubeconfig', 'sample-std']);
    expect(kc1.code).toBe(0);
    expect(kc1.stdout).toContain('kind: Config');
    const kc2 = await h.ffctl(['tenant', 'kubeconfig', 'sample-std']);
    expect(kc2.code).toBe(1);
    expect(kc2.stderr).toContain('it is handed out once');

    // A dev tenant's admin: its own tenant only, and no premium API.
    const tok = await h.ffctl(['token', 'create', 'dev-admin', '--role', 'tenant-admin', '--tenant', 'sample-dev']);
    const devToken = tok.stdout.trim();
    expect(devToken).toMatch(/^ff_/);
    expect((await h.ffctl(['tenant', 'status', 'sample-dev'], { token: devToken })).code).toBe(0);
    const other = await h.ffctl(['tenant', 'status', 'sample-std'], { token: devToken });
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('PERMISSION_DENIED');
    const denied = await h.ffctl(['tenant', 'placements', 'sample-dev'], { token: devToken });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('HTTP 403');
    expect(denied.stderr).toContain('placementHistory is not available on the dev tier');
    const store = new FirestoreStateStore(h.stack.file.project);
    try {
      const audit = await store.list(COLLECTIONS.audit);
      const entry = audit.map((d) => d.data).find((d) => d.action === 'feature.denied');
      expect(entry).toMatchObject({
        principal: 'token:dev-admin',
        target: 'tenants/sample-dev',
        details: { feature: 'placementHistory', tier: 'dev', billingId: 'acct-42' },
      });
    } finally {
      await store.close();
    }
    const ev = await h.ffctl(['events', '--tenant', 'sample-dev', '--type', 'FeatureDenied', '-o', 'json']);
    expect(JSON.parse(ev.stdout)).toHaveLength(1);

    // Flags reload live: turning the feature on for dev lets the same token through.
    expect((await h.ffctl(['tenant', 'features', '--set', 'dev.placementHistory=true'])).code).toBe(0);
    expect((await h.ffctl(['tenant', 'placements', 'sample-dev'], { token: devToken })).code).toBe(0);

    // Upgrade dev → standard.
    const up = await h.ffctl(['tenant', 'upgrade', 'sample-dev', '--to', 'standard'], {});
    expect(up.stderr).toBe('');
    expect(up.stdout).toMatch(/upgraded to standard: downtime \d+\.\d\d s/);
    const events = JSON.parse((await h.ffctl(['events', '--tenant', 'sample-dev', '-o', 'json'])).stdout) as Array<{
      type: string;
      correlationId: string;
    }>;
    const started = events.find((e) => e.type === 'UpgradeStarted');
    const completed = events.find((e) => e.type === 'UpgradeCompleted');
    expect(started?.correlationId).toBeDefined();
    expect(completed?.correlationId).toBe(started?.correlationId);

    // Delete.
    const del = await h.ffctl(['tenant', 'delete', 'sample-std', '--wait']);
    expect(del.code).toBe(0);
    expect((await h.ffctl(['tenant', 'status', 'sample-std'])).stderr).toContain('NOT_FOUND');
  });
});

describe('tenants without Kubernetes', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ driver: 'process' });
  });
  afterAll(async () => {
    await h?.stop();
  });

  test('tenant commands say how to start the Kubernetes tier; cells keep working', async () => {
    const r = await h.ffctl(['tenant', 'create', 'nokube', '--tier', 'dev']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('npm run kube:up');
    expect(r.stderr).toContain('--driver kubernetes');
    const s = await h.ffctl(['tenant', 'status', 'nokube']);
    expect(s.code).toBe(1);
    expect(s.stdout).toContain('Unavailable');
    // Never provisioned anywhere: deleting it just removes the record.
    expect((await h.ffctl(['tenant', 'delete', 'nokube', '--wait'])).code).toBe(0);
    expect((await h.ffctl(['tenant', 'status', 'nokube'])).stderr).toContain('NOT_FOUND');
    const w = await h.ffctl(['world', 'apply', '-f', 'examples/worldspec-basic.yaml']);
    expect(w.code).toBe(0);
    const ready = await h.ffctl(['world', 'wait', 'world-a', '--ready', '--timeout', '60s']);
    expect(ready.code).toBe(0);
  });
});
