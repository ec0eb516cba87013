/**
 * The dashboard at fleet scale, in headless Chromium: 200 sites × 4 nodes on a real coordinator
 * (in this process; agents played by posting reports). The page must load fast, show each site
 * in its state, keep up with a burst of reports without freezing, and stay usable from the
 * keyboard. Writes fleet-wall.png and fleet-site.png to test-output/screenshots (ignored by git);
 * HERALD_SCREENSHOT_DIR=docs/screenshots refreshes the docs' copies.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import {
  browserSkipReason,
  launchChromium,
  signIn,
  watchPageErrors,
} from '../unit/dashboard/support/browser.js';
import { buildDashboard } from '../unit/dashboard/support/build.js';
import { expect } from '../unit/dashboard/support/expect.js';
import { screenshotElement } from '../unit/dashboard/support/map-check.js';
import {
  FIXTURE_TOKENS,
  startFixtureCoordinator,
  type FixtureCoordinator,
} from '../unit/dashboard/support/fixture-coordinator.js';
import { fixtureSites, fixtureStatus, type FixtureSite } from '../unit/dashboard/support/fleet-fixture.js';
import type { PreDrainStatus } from '../../src/wire/agent-status.js';

const skip = browserSkipReason();
const screenshots =
  process.env.HERALD_SCREENSHOT_DIR ??
  fileURLToPath(new URL('../../test-output/screenshots/', import.meta.url));

const SITES = fixtureSites(200, 4);
const STALE = SITES[7]!; // never reports
const DOWN = SITES[11]!; // every node fails its checks
const DEGRADED = SITES[20]!; // one node of four fails
const DRAINED = SITES[3]!; // drained by a real drain, its agents acknowledging the withdraw

async function inBatches<T>(items: T[], size: number, task: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(task));
}

function reportsFor(
  sites: FixtureSite[],
  options: (site: FixtureSite, node: string) => Parameters<typeof fixtureStatus>[2] | null,
) {
  return sites.flatMap((site) =>
    site.nodes.flatMap((node) => {
      const o = options(site, node);
      return o ? [fixtureStatus(node, site.name, o)] : [];
    }),
  );
}

describe('dashboard with 200 sites × 4 nodes', { skip: skip ?? false, timeout: 180_000 }, () => {
  let coordinator: FixtureCoordinator;
  let browser: Browser;
  let page: Page;
  let errors: string[];
  let drainId = '';
  const row = (site: string) => page.locator(`.site-table tr[data-site="${site}"]`);

  before(async () => {
    mkdirSync(screenshots, { recursive: true });
    coordinator = await startFixtureCoordinator({
      sites: SITES,
      dashboardDir: await buildDashboard(),
      policy: { maxConcurrentDrains: 5 },
    });
    const reports = reportsFor(SITES, (site, node) => {
      if (site === STALE) return null;
      if (site === DOWN || (site === DEGRADED && node.endsWith('-a'))) return { healthy: false };
      return {};
    });
    await inBatches(reports, 50, (r) => coordinator.report(r));
    const created = await coordinator.api('POST', '/api/v1/drains', FIXTURE_TOKENS.operator, {
      site: DRAINED.name,
      reason: 'fibre cut repair',
      ticket: 'NOC-77',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    drainId = (created.body as { drain: { id: string } }).drain.id;
    // Its agents pick the drain up and ExaBGP acknowledges the withdraw.
    await inBatches(
      reportsFor([DRAINED], () => ({ drains: [drainId], acknowledged: 'withdraw' })),
      50,
      (r) => coordinator.report(r),
    );
    browser = await launchChromium();
    page = await (
      await browser.newContext({ viewport: { width: 1920, height: 1080 }, colorScheme: 'dark' })
    ).newPage();
    errors = watchPageErrors(page);
  });

  after(async () => {
    await browser?.close();
    await coordinator?.close();
  });

  test('loads the whole fleet within seconds, each site in its state, counted against the floor', async (t) => {
    const started = Date.now();
    await signIn(page, coordinator.url, FIXTURE_TOKENS.viewer);
    await expect(page.locator('.site-table tr[data-site]')).toHaveCount(200, { timeout: 10_000 });
    await expect(page.locator('.world-map .marker')).toHaveCount(200);
    const loadedMs = Date.now() - started;
    t.diagnostic(`200 sites × 4 nodes on screen ${loadedMs} ms after signing in`);
    assert.ok(loadedMs < 8000, `took ${loadedMs} ms`);
    await expect(row(STALE.name)).toHaveAttribute('data-state', 'stale');
    await expect(row(DOWN.name)).toHaveAttribute('data-state', 'down');
    await expect(row(DRAINED.name)).toHaveAttribute('data-state', 'drained');
    await expect(row(DEGRADED.name)).toHaveAttribute('data-state', 'announcing');
    await expect(row(DEGRADED.name).locator('.state-cell')).toContainText('partly');
    await expect(row(DEGRADED.name).locator('.nodes-cell')).toContainText('3/4');
    await expect(page.getByTestId('announcing-count')).toContainText('197 / 200');
    await expect(page.getByTestId('state-counts')).toContainText('Down: 1');
    await expect(page.getByTestId('state-counts')).toContainText('Stale: 1');
    await expect(page.getByTestId('state-counts')).toContainText('Drained: 1');
    await expect(row(DRAINED.name).locator('.holds-cell')).toContainText('alice: fibre cut repair');
    await expect(page.getByRole('button', { name: /drain (site|node)|release hold/i })).toHaveCount(0);
    await page.locator(`.site-table a.site-link`, { hasText: DRAINED.name }).click();
    await expect(page.locator('.drain-card')).toContainText('NOC-77');
    await expect(page.getByRole('button', { name: /drain (site|node)|release hold/i })).toHaveCount(0);
    await page.goBack();
  });

  test('a burst of 800 reports: coalesced fetches, keyed row updates, no freeze, the last change shown at once', async (t) => {
    // (Strings: this file is type-checked without the DOM library.)
    await page.evaluate(`
      window.longTasks = [];
      new PerformanceObserver((list) => list.getEntries().forEach((e) => window.longTasks.push(e.duration))).observe({ type: 'longtask' });
      window.rowChanges = new Set();
      new MutationObserver((records) => records.forEach((r) => {
        const cell = r.target.nodeType === 1 ? r.target.closest('td, th') : r.target.parentElement?.closest('td, th');
        const site = cell?.closest('tr')?.dataset.site; if (site && !cell.classList.contains('seen-cell')) window.rowChanges.add(site);
      })).observe(document.querySelector('.site-table'), { subtree: true, childList: true, characterData: true });
    `);
    const fetches: number[] = [];
    page.on('request', (request) => request.url().endsWith('/api/v1/status') && fetches.push(Date.now()));
    const target = SITES[30]!;
    const burst = reportsFor(SITES, (site, node) => {
      if (site === STALE || site === DRAINED || site === target) return null;
      if (site === DOWN || (site === DEGRADED && node.endsWith('-a')))
        return { healthy: false, latencyMs: 9 };
      // Every other node's UDP check starts warning: 796 changes, each an event to the page.
      return { latencyMs: 5 + (node.length % 7), warnUdp: true };
    });
    // The change to watch for comes last, after 796 reports the page must digest first.
    burst.push(...reportsFor([target], () => ({ healthy: false })));
    const started = Date.now();
    await inBatches(burst, 100, (r) => coordinator.report(r));
    const sentAt = Date.now();
    await expect(row(target.name)).toHaveAttribute('data-state', 'down', { timeout: 5000 });
    const shownMs = Date.now() - sentAt;
    const longTasks = (await page.evaluate('window.longTasks')) as number[];
    const changedRows = (await page.evaluate('[...window.rowChanges]')) as string[];
    t.diagnostic(
      `800 reports posted in ${sentAt - started} ms; ${fetches.length} fleet fetches; rows re-rendered: ${changedRows.join(', ')}; ` +
        `change shown ${shownMs} ms after the last report; long tasks: ${longTasks.map(Math.round).join(', ') || 'none'}`,
    );
    assert.ok(shownMs < 2500, `shown ${shownMs} ms after the last report`);
    // Events are coalesced: at most one fetch of the fleet document per 300 ms (plus the last one).
    assert.ok(fetches.length <= Math.ceil((Date.now() - started) / 300) + 2, `${fetches.length} fetches`);
    // Keyed updates: only the row whose state changed is touched (warnings and latency move nothing in the table).
    assert.deepEqual(changedRows, [target.name]);
    // A loaded CI machine stretches tasks; a page that freezes would block for seconds.
    assert.ok(
      Math.max(0, ...longTasks) < 1000,
      `the main thread was blocked for ${Math.max(...longTasks)} ms`,
    );
  });

  test('keyboard: "/" filters, sorting works, the map is one tab stop with arrow keys', async () => {
    await page.locator('body').press('/');
    await page.keyboard.type('tyo');
    await expect(page.locator('.site-table tr[data-site]')).toHaveCount(3); // tyo1, tyo2, tyo3
    await expect(page.locator('.shown-count')).toHaveText('3 of 200 sites shown');
    await page.getByLabel(/Filter sites/).fill('');
    await page.getByRole('button', { name: 'Only problems' }).click();
    await expect(page.locator('.site-table tr[data-site]')).toHaveCount(4);
    await page.getByRole('button', { name: 'Only problems' }).click();
    await page.getByRole('button', { name: 'Site', exact: true }).click();
    await expect(page.locator('th[aria-sort="ascending"]')).toContainText('Site');
    await page.getByRole('button', { name: 'Site', exact: true }).click();
    await expect(page.locator('th[aria-sort="descending"]')).toContainText('Site');
    await expect(page.locator('.world-map .marker[tabindex="0"]')).toHaveCount(1);
    await page.locator('.world-map .marker[tabindex="0"]').focus();
    const focusedSite = () =>
      page.evaluate(`document.activeElement?.getAttribute('data-site')`) as Promise<string | null>;
    const first = await focusedSite();
    await page.keyboard.press('ArrowRight');
    const second = await focusedSite();
    assert.ok(first && second && first !== second, `focus moved from ${first} to ${second}`);
    await page.keyboard.press('Enter');
    await expect(page.locator('#site-title')).toContainText(second!);
    await page.screenshot({ path: join(screenshots, 'fleet-site.png') });
  });

  test('a drain past its deadline is flagged overdue in the table and on the drains page', async () => {
    const site = SITES[12]!; // another region than the drained one (one drain per region)
    const created = await coordinator.api('POST', '/api/v1/drains', FIXTURE_TOKENS.operator, {
      site: site.name,
      reason: 'router swap',
      deadline: Date.now() + 1500,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await page.goto(`${coordinator.url}/#/`);
    await expect(row(site.name).locator('.holds-cell')).toContainText('overdue', { timeout: 10_000 });
    await page.getByRole('link', { name: 'Drains and holds' }).click();
    const card = page.locator(
      `.drain-card[data-drain="${(created.body as { drain: { id: string } }).drain.id}"]`,
    );
    await expect(card.locator('.flag-overdue')).toContainText('Overdue: the deadline passed');
    await expect(page.locator('.drains-view')).toContainText('need attention');
    await expect(page.getByTestId('drain-count')).toContainText('1 overdue');
  });

  test('wall display: larger text, same page', async () => {
    await page.goto(`${coordinator.url}/?wall#/`);
    await expect(page.locator('html')).toHaveClass(/wall/);
    await expect(page.locator('.site-table tr[data-site]')).toHaveCount(200);
    await page.getByRole('button', { name: 'Only problems' }).click();
    await page.screenshot({ path: join(screenshots, 'fleet-wall.png') });
    assert.deepEqual(errors, []);
  });

  test('certificates on the node card: days left, a warning within 20 days, an alarm once expired', async () => {
    const site = SITES[20]!;
    const days = [64, 20, 12, -3]; // the fixture adds an hour: -3 is 2 d 23 h ago
    await inBatches(
      site.nodes.map((node, index) =>
        fixtureStatus(node, site.name, { certDays: days[index % days.length]! }),
      ),
      50,
      (r) => coordinator.report(r),
    );
    await page.goto(`${coordinator.url}/#/site/${site.name}`);
    const cell = (node: string) =>
      page.locator(`.node-card[data-node="${node}"] tr[data-check="sip-tls"] .cert-expiry`);
    const [ok, edge, soon, gone] = site.nodes as [string, string, string, string];
    await expect(cell(ok)).toHaveText('64 d left');
    await expect(cell(ok)).toHaveAttribute('data-cert-urgency', 'ok');
    await expect(cell(edge)).toHaveText('! 20 d left');
    await expect(cell(edge)).toHaveClass(/warn-text/);
    await expect(cell(soon)).toHaveText('! 12 d left');
    await expect(cell(soon)).toHaveAttribute('data-cert-urgency', 'warn');
    await expect(cell(gone)).toHaveText('✕ expired 2 d ago');
    await expect(cell(gone)).toHaveClass(/alarm-text/);
    await screenshotElement(page, '.node-card', 'node-card-fixture.png');
  });

  test('flap hold-down on the node card: held down with the time left and the flaps, checks still passing', async () => {
    const site = SITES[40]!; // untouched by the tests above
    const [held, calm] = site.nodes as [string, string];
    // As a real held-down agent reports: checks pass, RISING, withdrawn until the hold-down ends.
    await inBatches(
      site.nodes.map((node) =>
        fixtureStatus(
          node,
          site.name,
          node === held ? { holdDown: { remainingMs: 20 * 60_000, flaps: 5 } } : {},
        ),
      ),
      50,
      (r) => coordinator.report(r),
    );
    await page.goto(`${coordinator.url}/#/site/${site.name}`);
    const card = (node: string) => page.locator(`.node-card[data-node="${node}"]`);
    const heartbeat = (node: string) => card(node).locator('.heartbeat');
    // The coordinator's holdDown.until, counted down on the page: 20 min, then 19 min once a second passed.
    await expect(heartbeat(held).locator('[data-hold-down="active"]')).toHaveText(
      /^\s*· ⏸ held down for flapping, (20|19) min left \(5 flaps\)$/,
      { timeout: 10_000 },
    );
    // Apart from health: not "failing checks".
    await expect(heartbeat(held)).toContainText('local checks pass');
    await expect(heartbeat(held)).not.toContainText('FAIL');
    await expect(card(held).locator('tr[data-check][data-status="up"]')).toHaveCount(3);
    await expect(card(held).locator('tr[data-check]:not([data-status="up"])')).toHaveCount(0);
    // The agent's own report, in the card's hold-down section.
    await expect(card(held).getByRole('region', { name: 'Flap hold-down' })).toContainText(
      /Held down for another (20|19) min \(penalty 2400, 5 flaps\)/,
    );
    // Held down, not down: its own state, badge and words.
    await expect(card(held)).toHaveAttribute('data-state', 'held-down');
    await expect(card(held).locator('header .badge')).toHaveText('Held down');
    await expect(card(held).locator('.node-detail')).toHaveText(
      'checks pass; held down for flapping (5 flaps)',
    );
    // A node of the same site without a hold-down shows no such text, once its report is on screen.
    await expect(heartbeat(calm)).toContainText('local checks pass');
    await expect(card(calm).getByRole('region', { name: 'Flap hold-down' })).toContainText(
      'Not held down (penalty 0, 0 flaps)',
    );
    await expect(card(calm)).toHaveAttribute('data-state', 'announcing');
    await expect(card(calm).locator('[data-hold-down]')).toHaveCount(0);
    await expect(heartbeat(calm)).not.toContainText(/held down/i);

    // A site whose every node is held down (checks passing) reads "Held down" in the table, not "Down".
    const heldSite = SITES[41]!;
    await inBatches(
      heldSite.nodes.map((node) =>
        fixtureStatus(node, heldSite.name, { holdDown: { remainingMs: 10 * 60_000, flaps: 4 } }),
      ),
      50,
      (r) => coordinator.report(r),
    );
    await page.goto(`${coordinator.url}/#/`);
    await expect(row(heldSite.name)).toHaveAttribute('data-state', 'held-down', { timeout: 10_000 });
    await expect(row(heldSite.name).locator('.state-cell')).toContainText('Held down');
    await expect(row(heldSite.name).locator('.state-cell')).not.toContainText(/^Down/);
    await expect(row(heldSite.name)).toContainText('checks pass; held down for flapping (4 flaps)');
    await expect(page.getByTestId('state-counts')).toContainText('Held down: 1');
    await expect(row(DOWN.name)).toHaveAttribute('data-state', 'down');
    await screenshotElement(page, `.site-table tr[data-site="${heldSite.name}"]`, 'site-row-held-down.png');
  });

  test('a pre-drain on the page: node cards and the drain card show its phase and live count, live', async () => {
    const site = SITES[90]!; // a region of its own (one drain per region)
    const created = await coordinator.api('POST', '/api/v1/drains', FIXTURE_TOKENS.operator, {
      site: site.name,
      reason: 'turn relay upgrade',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = (created.body as { drain: { id: string } }).drain.id;
    const [counting, failing, plain] = site.nodes as [string, string, string];
    const now = Date.now();
    // As an agent in its pre-drain reports: still UP and announcing normally, holding the drain.
    const preDraining = (node: string, preDrain: Partial<PreDrainStatus>) => {
      const base = fixtureStatus(node, site.name, { drains: [id], acknowledged: 'announce' });
      return {
        ...base,
        state: 'UP' as const,
        prefixes: base.prefixes.map((p) => ({ ...p, state: 'UP' as const })),
        preDrain: {
          phase: 'waiting' as const,
          threshold: 0,
          since: now,
          deadlineAt: now + 300_000,
          steered: true,
          ...preDrain,
        },
      };
    };
    const report = (count: number) =>
      Promise.all([
        coordinator.report(preDraining(counting, { count, countAt: Date.now() })),
        coordinator.report(preDraining(failing, { gaugeError: 'sleep did not finish within 2000 ms' })),
        ...site.nodes
          .slice(2)
          .map((node) =>
            coordinator.report(fixtureStatus(node, site.name, { drains: [id], acknowledged: 'graceful' })),
          ),
      ]);
    await report(7);
    await page.goto(`${coordinator.url}/#/`);
    await expect(row(site.name)).toHaveAttribute('data-state', 'draining', { timeout: 10_000 });
    await page.goto(`${coordinator.url}/#/site/${site.name}`);
    const card = (node: string) => page.locator(`.node-card[data-node="${node}"]`);
    const line = (node: string) => card(node).getByTestId('pre-drain');
    await expect(line(counting)).toHaveText(
      /^⏳ pre-drain: waiting for sessions: 7 live, threshold 0 \(deadline \d\d:\d\d:\d\dZ\)$/,
    );
    await expect(line(counting)).toHaveAttribute('data-sessions', '7');
    await expect(card(counting)).toHaveAttribute('data-state', 'draining');
    await expect(card(counting).locator('.node-detail')).toHaveText(
      `pre-drain waiting: 7 > 0; drained by ${id}`,
    );
    await expect(line(failing)).toContainText('count unknown');
    await expect(line(failing)).toContainText('gauge failed: sleep did not finish within 2000 ms');
    await expect(line(failing)).toHaveClass(/warn-text/);
    await expect(card(plain).getByTestId('pre-drain')).toHaveCount(0);
    const drainCard = page.locator(`.drain-card[data-drain="${id}"]`);
    await expect(drainCard.getByTestId('drain-status')).toContainText(
      `pre-drain on ${counting}, ${failing}: new sessions steered away, waiting for live ones`,
    );
    const progress = drainCard.locator(`li[data-node="${counting}"]`);
    await expect(progress).toHaveAttribute('data-pre-drain', 'waiting');
    await expect(progress).toContainText('⏳ pre-drain — pre-drain: waiting for sessions: 7 live');
    // The count falls: the page follows it without a reload.
    await report(2);
    await expect(line(counting)).toHaveAttribute('data-sessions', '2');
    await expect(progress).toContainText('2 live');
    await screenshotElement(page, `.node-card[data-node="${counting}"]`, 'node-card-pre-drain.png');
    assert.deepEqual(errors, []);
  });
});
