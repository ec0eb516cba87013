/**
 * The dashboard end to end, in headless Chromium, against a real `herald coordinator` and real
 * `herald agent` processes (ExaBGP's side played by the test, proxies played by TCP listeners):
 * the page shows every site in its true state, a killed proxy within seconds, a drain started
 * from the page followed to drained, a lost connection said out loud, and no actions for a
 * viewer. Writes the screenshots in docs/screenshots (or HERALD_SCREENSHOT_DIR).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { expect } from '../unit/dashboard/support/expect.js';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import {
  browserSkipReason,
  launchChromium,
  signIn,
  watchPageErrors,
} from '../unit/dashboard/support/browser.js';
import { buildDashboard } from '../unit/dashboard/support/build.js';
import { assertEverySiteReadable, screenshotElement } from '../unit/dashboard/support/map-check.js';
import {
  AgentProcess,
  CoordinatorProcess,
  E2E_TOKENS,
  freePort,
  until,
  type E2eSite,
} from '../unit/dashboard/support/processes.js';

const skip = browserSkipReason();
const screenshots =
  process.env.HERALD_SCREENSHOT_DIR ?? fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));

const SITES: E2eSite[] = [
  {
    name: 'lon1',
    region: 'eu',
    location: { lat: 51.51, lon: -0.13, label: 'London' },
    nodes: ['lon1-a', 'lon1-b'],
  },
  { name: 'fra1', region: 'eu', location: { lat: 50.11, lon: 8.68, label: 'Frankfurt' }, nodes: ['fra1-a'] },
  { name: 'nyc1', region: 'us', location: { lat: 40.71, lon: -74.01, label: 'New York' }, nodes: ['nyc1-a'] },
  {
    name: 'sjc1',
    region: 'us',
    location: { lat: 37.34, lon: -121.89, label: 'San Jose' },
    nodes: ['sjc1-a'],
  },
  { name: 'sin1', region: 'ap', location: { lat: 1.35, lon: 103.82, label: 'Singapore' }, nodes: ['sin1-a'] },
];

interface ApiSite {
  name: string;
  announcing: boolean;
  nodes: { name: string; stale: boolean; prefixes: { acknowledged: string }[] }[];
}

describe('dashboard against a real coordinator and agents', { skip: skip ?? false, timeout: 240_000 }, () => {
  let work: string;
  let coordinator: CoordinatorProcess;
  const agents: AgentProcess[] = [];
  let browser: Browser;
  let operator: BrowserContext;
  let page: Page;
  let pageErrors: string[];
  const requests: string[] = [];

  const row = (site: string) => page.locator(`.site-table tr[data-site="${site}"]`);
  const apiSites = async () =>
    ((await coordinator.api('GET', '/api/v1/status', E2E_TOKENS.viewer)).body as { sites: ApiSite[] }).sites;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'herald-dashboard-e2e-'));
    mkdirSync(screenshots, { recursive: true });
    const dashboardDir = await buildDashboard();
    coordinator = new CoordinatorProcess(work, await freePort(), SITES, dashboardDir);
    await coordinator.start();
    for (const site of SITES)
      for (const node of site.nodes) agents.push(new AgentProcess(work, node, site.name, coordinator.url));
    await Promise.all(agents.map((a) => a.start()));
    await until(
      async () => (await apiSites()).every((s) => s.announcing && s.nodes.every((n) => !n.stale)),
      'every site to announce',
      60_000,
    );
    browser = await launchChromium();
    operator = await browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: 'dark' });
    page = await operator.newPage();
    pageErrors = watchPageErrors(page);
    page.on('request', (request) => requests.push(request.url()));
    await signIn(page, coordinator.url, E2E_TOKENS.operator);
    await expect(page.getByTestId('who')).toHaveText('alice · operator');
  });

  after(async () => {
    await browser?.close();
    await Promise.all(agents.map((a) => a.stop()));
    await coordinator?.kill();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('the page shows every site in its true state, with the count against the floor', async () => {
    const truth = await apiSites();
    await expect(page.locator('.site-table tr[data-site]')).toHaveCount(SITES.length);
    for (const site of truth)
      await expect(row(site.name)).toHaveAttribute(
        'data-state',
        site.announcing ? 'announcing' : /down|stale|drained/,
      );
    await expect(page.locator('.world-map .marker')).toHaveCount(SITES.length);
    await expect(page.getByTestId('announcing-count')).toContainText(
      `${truth.filter((s) => s.announcing).length} / ${SITES.length}`,
    );
    await expect(page.getByTestId('announcing-count')).toContainText('policy floor 2');
    await expect(page.locator('.connection')).toContainText('Live');
  });

  test('the map shows every site with its own visible marker and a label naming its state', async () => {
    await expect(page.locator('.world-map .marker-label')).toHaveCount(SITES.length);
    await expect(page.locator(`.world-map .marker[data-site="fra1"] .marker-label`)).toHaveText(/^fra1 · /);
    await assertEverySiteReadable(
      page,
      SITES.map((s) => s.name),
    );
    await screenshotElement(page, '.map-panel', 'map-five-sites.png');
  });

  test('a viewer sees the same fleet but no actions, and the API refuses them anyway', async () => {
    const viewer = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const viewerPage = await viewer.newPage();
      await signIn(viewerPage, coordinator.url, 'not-a-token-anybody-has');
      await expect(viewerPage.getByRole('alert')).toHaveText('✕ The coordinator does not know this token.');
      await viewerPage.getByLabel('Coordinator token').fill(E2E_TOKENS.viewer);
      await viewerPage.getByRole('button', { name: 'Sign in' }).click();
      await expect(viewerPage.getByTestId('who')).toHaveText('grafana · viewer');
      await expect(viewerPage.locator('.site-table tr[data-site]')).toHaveCount(SITES.length);
      await viewerPage.locator('.site-table a.site-link', { hasText: 'lon1' }).click();
      await expect(viewerPage.locator('.node-card')).toHaveCount(2);
      await expect(viewerPage.getByRole('button', { name: /drain (site|node)|release hold/i })).toHaveCount(
        0,
      );
      const refused = await coordinator.api('POST', '/api/v1/drains', E2E_TOKENS.viewer, {
        site: 'lon1',
        reason: 'viewer tries',
      });
      assert.equal(refused.status, 403);
    } finally {
      await viewer.close();
    }
  });

  test('a killed proxy shows as down within a few seconds, with the failing check named', async (t) => {
    const nyc = agents.find((a) => a.node === 'nyc1-a')!;
    const killedAt = Date.now();
    await nyc.proxy.kill();
    await expect(row('nyc1')).toHaveAttribute('data-state', 'down', { timeout: 10_000 });
    const seenAfterMs = Date.now() - killedAt;
    t.diagnostic(`the page showed nyc1 down ${seenAfterMs} ms after its proxy was killed`);
    assert.ok(seenAfterMs < 8000, `the page showed nyc1 down ${seenAfterMs} ms after its proxy died`);
    await expect(row('nyc1').locator('.state-cell')).toHaveText(/Down/);
    await page.locator('.site-table a.site-link', { hasText: 'nyc1' }).click();
    const check = page.locator('.node-card[data-node="nyc1-a"] tr[data-check="sip-proxy"]');
    await expect(check).toHaveAttribute('data-status', 'down');
    await expect(check.locator('.check-result')).toHaveText(/down/);
    await expect(page.locator('.site-header .badge')).toHaveText('Down');
    await page.screenshot({ path: join(screenshots, 'site-detail.png'), fullPage: true });
  });

  test('an agent that stops reporting is shown stale, never as announcing', async () => {
    await page.goto(`${coordinator.url}/#/`);
    await agents.find((a) => a.node === 'sin1-a')!.kill();
    await expect(row('sin1')).toHaveAttribute('data-state', 'stale', { timeout: 10_000 });
    await expect(row('sin1').locator('.summary-cell')).toHaveText('no fresh report from its node');
    await expect(page.getByTestId('announcing-count')).toContainText(`3 / ${SITES.length}`);
  });

  test('the drain dialog shows the dry-run verdict: a blocking rule disables "Drain now"', async () => {
    // nyc1 is down, so sjc1 is the last announcing site of region us.
    await page.goto(`${coordinator.url}/#/site/sjc1`);
    await page.getByRole('button', { name: 'Drain site…' }).click();
    const dialog = page.getByRole('dialog');
    await expect(dialog).toBeVisible();
    await dialog.getByRole('button', { name: 'Check (dry run)' }).click();
    await expect(dialog.getByText('A reason of at least 3 characters is required')).toBeVisible();
    await dialog.getByLabel('Reason').fill('replace the line card');
    await dialog.getByRole('button', { name: 'Check (dry run)' }).click();
    const verdict = page.getByTestId('dry-run-verdict');
    await expect(verdict).toContainText('Blocked');
    await expect(verdict.locator('li[data-rule="regionFloor"]')).toContainText('last site of region us');
    await expect(dialog.getByRole('button', { name: 'Drain now' })).toBeDisabled();
    await page.screenshot({ path: join(screenshots, 'drain-dialog.png') });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect(dialog).toBeHidden();
    const drains = (await coordinator.api('GET', '/api/v1/drains', E2E_TOKENS.viewer)).body as {
      drains: unknown[];
    };
    assert.equal(drains.drains.length, 0, 'a dry run stores nothing');
  });

  test('a drain started from the page with a reason is followed to drained', async () => {
    await page.goto(`${coordinator.url}/#/site/lon1`);
    await page.getByRole('button', { name: 'Drain site…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Reason').fill('kernel upgrade (e2e)');
    await dialog.getByLabel('Ticket (optional)').fill('OPS-1234');
    await dialog.getByRole('button', { name: 'Check (dry run)' }).click();
    await expect(page.getByTestId('dry-run-verdict')).toContainText('Allowed');
    await expect(page.getByTestId('dry-run-verdict')).toContainText('lon1-a, lon1-b');
    // Editing the form after the check invalidates the verdict.
    await dialog.getByLabel('Ticket (optional)').fill('OPS-12345');
    await expect(dialog.getByRole('button', { name: 'Drain now' })).toBeDisabled();
    await dialog.getByRole('button', { name: 'Check (dry run)' }).click();
    await dialog.getByRole('button', { name: 'Drain now' }).click();
    await expect(dialog).toBeHidden();

    const badge = page.locator('.site-header .badge');
    await expect(badge).toHaveText(/Draining|Drained/, { timeout: 10_000 });
    await expect(badge).toHaveText('Drained', { timeout: 20_000 });
    const card = page.locator('.drain-card');
    await expect(card).toContainText('kernel upgrade (e2e)');
    await expect(card).toContainText('OPS-12345');
    await expect(card).toContainText('alice');
    await expect(card.getByTestId('drain-status')).toContainText('complete');
    await expect(card.locator('.node-progress li[data-stage="withdrawn"]')).toHaveCount(2);
    // The page's "drained" is the agents' truth: ExaBGP acknowledged the withdraw on both nodes.
    const lon1 = (await apiSites()).find((s) => s.name === 'lon1')!;
    assert.ok(lon1.nodes.every((n) => n.prefixes.every((p) => p.acknowledged === 'withdraw')));

    await page.goto(`${coordinator.url}/#/`);
    await expect(row('lon1')).toHaveAttribute('data-state', 'drained');
    await expect(row('lon1').locator('.holds-cell')).toContainText('alice: kernel upgrade (e2e)');
    await expect(page.getByTestId('safe-to-drain')).toContainText('No');
    await page.screenshot({ path: join(screenshots, 'overview.png') });

    await page.getByRole('link', { name: 'History' }).click();
    await expect(
      page.locator('.audit-entry').filter({ hasText: 'kernel upgrade (e2e)' }).first(),
    ).toBeVisible();
    await expect(page.locator('.strip-row[data-site="lon1"] svg')).toHaveAttribute('aria-label', /Drained/);
    await page.screenshot({ path: join(screenshots, 'history.png'), fullPage: true });
  });

  test('a lost connection is said out loud, and the page comes back live', async () => {
    await page.goto(`${coordinator.url}/#/`);
    await expect(page.locator('.connection')).toContainText('Live');
    await coordinator.kill();
    // (Other alerts may be up as well, such as a panic-mode banner with this many sites out.)
    await expect(
      page.getByRole('alert').filter({ hasText: 'Connection to the coordinator lost' }),
    ).toBeVisible({
      timeout: 10_000,
    });
    await expect(page.locator('body')).toHaveClass(/not-live/);
    await expect(page.locator('.connection')).not.toContainText('Live');
    await coordinator.start();
    await expect(page.locator('.connection')).toContainText('Live', { timeout: 20_000 });
    await expect(page.locator('body')).not.toHaveClass(/not-live/);
    // The drain was stored: it is still there after the restart.
    await expect(row('lon1')).toHaveAttribute('data-state', 'drained', { timeout: 10_000 });
  });

  test('releasing the hold from the page brings the site back', async () => {
    await page.goto(`${coordinator.url}/#/site/lon1`);
    await page.getByRole('button', { name: 'Release hold…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Reason (optional)').fill('upgrade done');
    await dialog.getByRole('button', { name: 'Release hold' }).click();
    await expect(dialog).toBeHidden();
    await expect(page.locator('.site-header .badge')).toHaveText('Announcing', { timeout: 20_000 });
    await until(
      async () => (await apiSites()).find((s) => s.name === 'lon1')!.announcing,
      'lon1 to announce again per the API',
    );
    assert.deepEqual(
      pageErrors.filter((e) => !/Failed to load resource|ERR_CONNECTION_REFUSED|net::/.test(e)),
      [],
    );
  });

  test('everything the page loaded came from the coordinator itself (no CDN, works offline)', () => {
    assert.ok(requests.length > 10);
    assert.deepEqual(
      requests.filter((url) => !url.startsWith(`${coordinator.url}/`)),
      [],
    );
  });
});
