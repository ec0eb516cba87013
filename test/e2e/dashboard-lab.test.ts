/**
 * The dashboard on the lab (bonus to dashboard.test.ts): real Kamailio, ExaBGP, BIRD routers,
 * `herald agent` on every node and the coordinator on the host with its route observer, the
 * page in headless Chromium. A dead proxy shows within seconds; the dry run refuses a drain that
 * would break the floor; a drain started from the page is followed until the routes are gone at
 * the routers; releasing it brings them back. Needs root and the lab's Debian packages.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { coordinatorAvailable, heraldCoordinator, operatorTokenFile } from '../../src/lab/coordinator.js';
import type { CoordinatorHook, Lab } from '../../src/lab/lab.js';
import { describeSnapshot, isAnnouncedBy, isWithdrawnBy } from '../../src/lab/route-observer.js';
import { compiledCli } from '../../src/lab/runtime.js';
import { certNotAfterUnixSeconds } from '../../src/wire/agent-status.js';
import { certificateExpiry } from '../../src/wire/certificate-expiry.js';
import { labSkip, noteOutcome, releaseTestLab, requireLab, startTestLab } from '../support/lab.js';
import {
  browserSkipReason,
  launchChromium,
  signIn,
  watchPageErrors,
} from '../unit/dashboard/support/browser.js';
import { buildDashboard } from '../unit/dashboard/support/build.js';
import { expect } from '../unit/dashboard/support/expect.js';
import { assertEverySiteReadable, screenshotElement } from '../unit/dashboard/support/map-check.js';

const exec = promisify(execFile);
const LAB_SITES = ['lon1', 'ams1', 'nyc1'];
/** The lab agents' TLS check (src/lab/agent-config.ts). */
const TLS_CHECK = 'sip-tls';

/** The `    cert ...` lines right below line `at` of `herald status` (that node's certificates). */
function certLinesAfter(lines: readonly string[], at: number): string[] {
  const found: string[] = [];
  for (const line of lines.slice(at + 1)) {
    if (!line.startsWith('    cert ')) break;
    found.push(line);
  }
  return found;
}

/** A certificate file's notAfter in Unix seconds, read by Node's own X.509 parser. */
function notAfterOf(file: string): number {
  return Math.floor(Date.parse(new X509Certificate(readFileSync(file)).validTo) / 1000);
}

const compiledRegistration = fileURLToPath(new URL('../../dist/src/dashboard/register.js', import.meta.url));
const compiledCommands = fileURLToPath(
  new URL('../../dist/src/cli/coordinator-commands.js', import.meta.url),
);

function skipReason(): string | false {
  const browser = browserSkipReason();
  if (browser) return browser;
  const lab = labSkip({ needsAgent: true });
  if (lab) return lab;
  const missing = !coordinatorAvailable()
    ? `the compiled CLI ${compiledCli()} has no coordinator command`
    : !existsSync(compiledRegistration)
      ? `${compiledRegistration} is missing`
      : !readFileSync(compiledCommands, 'utf8').includes('dashboard/register')
        ? `the compiled coordinator command does not mount the dashboard yet`
        : null;
  if (!missing) return false;
  if (requireLab) throw new Error(`${missing} (run npm run build)`);
  return `${missing} (run npm run build)`;
}

/** The lab's coordinator (which mounts the dashboard), serving the page built for this test. */
function coordinatorWithDashboard(dashboardDir: string): CoordinatorHook {
  const inner = heraldCoordinator();
  return {
    async start(context) {
      const saved = process.env.HERALD_DASHBOARD_DIR;
      process.env.HERALD_DASHBOARD_DIR = dashboardDir;
      try {
        return await inner.start(context);
      } finally {
        if (saved === undefined) delete process.env.HERALD_DASHBOARD_DIR;
        else process.env.HERALD_DASHBOARD_DIR = saved;
      }
    },
  };
}

describe('dashboard on the lab', { skip: skipReason(), timeout: 300_000 }, () => {
  let lab: Lab;
  let browser: Browser;
  let page: Page;
  let errors: string[];
  const row = (site: string) => page.locator(`.site-table tr[data-site="${site}"]`);

  before(async () => {
    const dashboardDir = await buildDashboard();
    lab = await startTestLab('dashboard-lab', {
      hostLink: true,
      coordinator: coordinatorWithDashboard(dashboardDir),
      agentTuning: { drainHold: 1500 },
    });
    browser = await launchChromium();
    page = await (
      await browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: 'dark' })
    ).newPage();
    errors = watchPageErrors(page);
    await signIn(page, lab.coordinatorUrl!, readFileSync(operatorTokenFile(lab.paths), 'utf8').trim());
  });
  after(async () => {
    await browser?.close();
    if (lab) await releaseTestLab(lab);
  });
  afterEach((t) => noteOutcome(t));

  /** `herald status` against the lab's coordinator, as an operator runs it. */
  async function heraldStatus(): Promise<string> {
    const { stdout } = await exec(process.execPath, [compiledCli(), 'status'], {
      env: {
        ...process.env,
        HERALD_COORDINATOR: lab.coordinatorUrl!,
        HERALD_TOKEN_FILE: operatorTokenFile(lab.paths),
      },
      timeout: 60_000,
    });
    return stdout;
  }

  /** The certificate cell of a node's TLS check on its site page. */
  const certCell = (node: string) =>
    page.locator(`.node-card[data-node="${node}"] tr[data-check="${TLS_CHECK}"] .cert-expiry`);

  test('every PoP of the lab shows announcing', async () => {
    await expect(page.locator('.site-table tr[data-site]')).toHaveCount(3, { timeout: 15_000 });
    for (const site of ['lon1', 'ams1', 'nyc1'])
      await expect(row(site)).toHaveAttribute('data-state', 'announcing', { timeout: 15_000 });
    await expect(page.getByTestId('announcing-count')).toContainText('3 / 3');
  });

  test('the map shows every lab PoP (ams1 beside lon1) with its own marker and a label with its state', async () => {
    await expect(page.locator('.world-map .marker-label')).toHaveCount(LAB_SITES.length);
    for (const site of LAB_SITES)
      await expect(page.locator(`.world-map .marker[data-site="${site}"] .marker-label`)).toHaveText(
        `${site} · announcing`,
      );
    await assertEverySiteReadable(page, LAB_SITES);
    await screenshotElement(page, '.map-panel', 'map-lab.png');
  });

  test("the node card and herald status show the days left of the lab certificate's real notAfter", async () => {
    const notAfter = notAfterOf(lab.paths.certs.serverCert);
    // The real agent's report carries it in Unix seconds, and passes the wire schema (agentStatus parses it).
    const reported = (await lab.agentStatus('lon1-a')).checks.find((c) => c.name === TLS_CHECK);
    assert.ok(reported, `lon1-a reports no ${TLS_CHECK} check`);
    assert.equal(certNotAfterUnixSeconds(reported), notAfter);
    const expected = certificateExpiry(notAfter, Date.now());
    assert.ok(
      expected.daysLeft > 20 && expected.daysLeft < 400,
      `the lab certificate has ${expected.daysLeft} d left`,
    );
    await page.goto(`${lab.coordinatorUrl}/#/site/lon1`);
    for (const node of ['lon1-a', 'lon1-b']) {
      await expect(certCell(node)).toHaveText(`${expected.daysLeft} d left`, { timeout: 15_000 });
      await expect(certCell(node)).toHaveAttribute('data-cert-urgency', 'ok');
    }
    await screenshotElement(page, '.node-card[data-node="lon1-a"]', 'node-card-lab.png');
    const lines = (await heraldStatus()).split('\n');
    for (const node of ['lon1-a', 'ams1-a', 'nyc1-a']) {
      const at = lines.findIndex((line) => line.startsWith(`  ${node} `));
      assert.ok(at >= 0, `herald status has no line for ${node}:\n${lines.join('\n')}`);
      assert.ok(
        certLinesAfter(lines, at).includes(
          `    cert ${TLS_CHECK}: ${expected.daysLeft} d left (notAfter ${expected.date})`,
        ),
        lines.join('\n'),
      );
    }
    await page.goto(`${lab.coordinatorUrl}/#/`); // the next test starts on the overview
  });

  test('Kamailio killed on ams1-a: the page shows ams1 down, naming the failing checks', async (t) => {
    const started = Date.now();
    await lab.fault('ams1-a', 'stop-proxy');
    await expect(row('ams1')).toHaveAttribute('data-state', 'down', { timeout: 15_000 });
    t.diagnostic(`the page showed ams1 down ${Date.now() - started} ms after Kamailio was killed`);
    await page.locator('.site-table a.site-link', { hasText: 'ams1' }).click();
    await expect(page.locator('.node-card[data-node="ams1-a"] tr[data-status="down"]').first()).toBeVisible();
  });

  test('the dry run refuses to drain lon1 while ams1 is down (floor), and nothing changes', async () => {
    await page.goto(`${lab.coordinatorUrl}/#/site/lon1`);
    await page.getByRole('button', { name: 'Drain site…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Reason').fill('lab: kernel upgrade');
    await dialog.getByRole('button', { name: 'Check (dry run)' }).click();
    await expect(page.getByTestId('dry-run-verdict')).toContainText('Blocked');
    await expect(page.getByTestId('dry-run-verdict').locator('li[data-rule]').first()).toBeVisible();
    await expect(dialog.getByRole('button', { name: 'Drain now' })).toBeDisabled();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    const snapshot = await lab.observer.snapshot();
    assert.ok(
      isAnnouncedBy(snapshot, 'lon1-a') && isAnnouncedBy(snapshot, 'lon1-b'),
      describeSnapshot(snapshot),
    );
  });

  test('with ams1 back, a drain from the page is followed until the routes are gone at the routers', async () => {
    await lab.fault('ams1-a', 'start-proxy');
    await page.goto(`${lab.coordinatorUrl}/#/`);
    await expect(row('ams1')).toHaveAttribute('data-state', 'announcing', { timeout: 30_000 });
    await page.goto(`${lab.coordinatorUrl}/#/site/lon1`);
    await page.getByRole('button', { name: 'Drain site…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Reason').fill('lab: kernel upgrade');
    await dialog.getByRole('button', { name: 'Check (dry run)' }).click();
    await expect(page.getByTestId('dry-run-verdict')).toContainText('Allowed');
    await dialog.getByRole('button', { name: 'Drain now' }).click();
    await expect(page.locator('.site-header .badge')).toHaveText('Drained', { timeout: 30_000 });
    await expect(page.locator('.drain-card .node-progress li[data-stage="verified"]')).toHaveCount(2, {
      timeout: 15_000,
    });
    const snapshot = await lab.observer.snapshot();
    assert.ok(
      isWithdrawnBy(snapshot, 'lon1-a') && isWithdrawnBy(snapshot, 'lon1-b'),
      describeSnapshot(snapshot),
    );
  });

  test('releasing the hold from the page brings lon1 back at the routers', async () => {
    await page.getByRole('button', { name: 'Release hold…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Release hold' }).click();
    await expect(page.locator('.site-header .badge')).toHaveText('Announcing', { timeout: 30_000 });
    await lab.observer.waitFor((s) => isAnnouncedBy(s, 'lon1-a') && isAnnouncedBy(s, 'lon1-b'), {
      timeoutMs: 10_000,
    });
    assert.deepEqual(errors, []);
  });

  test("the lab's break-tls fault (an expired certificate) shows as alarmed on the page and in herald status", async () => {
    const notAfter = notAfterOf(lab.paths.certs.expiredCert);
    await lab.fault('lon1-a', 'break-tls');
    try {
      const expected = certificateExpiry(notAfter, Date.now());
      assert.equal(expected.urgency, 'alarm');
      await page.goto(`${lab.coordinatorUrl}/#/site/lon1`);
      await expect(certCell('lon1-a')).toHaveAttribute('data-cert-urgency', 'alarm', { timeout: 20_000 });
      await expect(certCell('lon1-a')).toHaveText(`✕ ${expected.text}`);
      await expect(certCell('lon1-a')).toHaveClass(/alarm-text/);
      await expect(certCell('lon1-b')).toHaveAttribute('data-cert-urgency', 'ok');
      await screenshotElement(page, '.node-card[data-node="lon1-a"]', 'node-card-lab-expired.png');
      const text = await heraldStatus();
      assert.match(
        text,
        new RegExp(`^    cert ${TLS_CHECK}: EXPIRED: ${expected.text} \\(notAfter 2020-01-02\\)$`, 'm'),
        text,
      );
    } finally {
      await lab.fault('lon1-a', 'fix-tls');
    }
    await expect(certCell('lon1-a')).toHaveAttribute('data-cert-urgency', 'ok', { timeout: 20_000 });
    assert.deepEqual(errors, []);
  });
});
