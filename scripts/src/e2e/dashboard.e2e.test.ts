import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT, startHarness, type Harness } from './harness';

/** Debian's Chromium (`.ci/run` installs it); playwright's own browser download cannot run here. */
const CHROMIUM = process.env.FF_CHROMIUM ?? '/usr/bin/chromium';
/** Headless, and no calls home: this machine's network refuses them (and they slow every start). */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
export const SCREENSHOT = join(ROOT, 'test-results', 'dashboard.png');

/**
 * The dashboard as an operator uses it: `npm start`'s page in a real browser,
 * watching a world come up and a split happen live, then narrowing the event
 * stream to that split's correlation id.
 */
describe('live dashboard in headless Chromium', () => {
  let h: Harness;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (or set FF_CHROMIUM)`);
    }
    h = await startHarness();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1440, height: 1100 } });
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await h?.stop();
  }, 60_000);

  it('shows the world to scale, a split appearing live on the map and the timeline, and its events by correlation', async () => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(h.stack.file.dashboard);
    await page.waitForSelector('#status[data-state="live"]');
    await expect(page.locator('#world-summary').textContent()).resolves.toContain('no worlds');

    expect((await h.ffctl(['world', 'apply', '-f', 'examples/worldspec-basic.yaml'])).code).toBe(0);
    expect((await h.ffctl(['world', 'wait', 'world-a', '--ready', '--timeout', '60s'])).code).toBe(0);
    // No reload: the page learns of the world over the stream.
    await page.waitForSelector('#cell-map[data-cells="4"]', { timeout: 30_000 });
    const r0c0 = page.locator('#cell-map g[data-cell-id="r0c0"] rect');
    // To scale: the four 500x500 quadrants of the 1000x1000 world.
    await expect(r0c0.getAttribute('width')).resolves.toBe('500');
    await expect(page.locator('#cell-map').getAttribute('viewBox')).resolves.toBe('0 0 1000 1000');

    const split = await h.ffctl(['cell', 'split', 'world-a', 'r0c0', '--wait', '--timeout', '90s', '-o', 'json']);
    expect(split.code).toBe(0);
    const op = JSON.parse(split.stdout) as { id: string; correlationId: string; targets: { id: string }[] };

    await page.waitForSelector('#timeline g[data-op-kind="split"][data-op-state="Completed"]', { timeout: 30_000 });
    const cells = Number(await page.locator('#cell-map').getAttribute('data-cells'));
    expect(cells).toBe(3 + op.targets.length);
    for (const t of op.targets) await page.waitForSelector(`#cell-map g[data-cell-id="${t.id}"]`);
    await page.waitForSelector(`#operations tr[data-op-id="${op.id}"]`);

    // Clicking the split on the timeline narrows the event stream to its correlation id.
    await page.locator('#timeline g[data-op-kind="split"]').first().click();
    await expect(page.locator('#event-filter input[name="correlation"]').inputValue()).resolves.toBe(op.correlationId);
    const rows = page.locator('#events tbody tr');
    await expect(rows.count()).resolves.toBeGreaterThan(1);
    const correlations = await page.locator('#events tbody tr td:last-child').allTextContents();
    expect(new Set(correlations)).toEqual(new Set([op.correlationId]));

    mkdirSync(join(ROOT, 'test-results'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(statSync(SCREENSHOT).size).toBeGreaterThan(10_000);
    expect(errors).toEqual([]);
  }, 240_000);
});
