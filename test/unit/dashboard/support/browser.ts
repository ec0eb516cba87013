/**
 * Headless Chromium for the dashboard's tests (Debian's /usr/bin/chromium; browser downloads do
 * not work here). Tests skip with a reason when it is missing, unless HERALD_REQUIRE_LAB=1.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type ConsoleMessage, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.HERALD_CHROMIUM ?? '/usr/bin/chromium';

/** Why browser tests cannot run here, or null when they can. Throws when they must run. */
export function browserSkipReason(): string | null {
  if (existsSync(CHROMIUM_PATH)) return null;
  const reason = `${CHROMIUM_PATH} is missing (install the Debian chromium package)`;
  if (process.env.HERALD_REQUIRE_LAB === '1') throw new Error(`HERALD_REQUIRE_LAB=1 but ${reason}`);
  return reason;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/** Collects console errors and Content-Security-Policy violations, which must never happen. */
export function watchPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (message: ConsoleMessage) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
  return errors;
}

/** Signs in on the page's own form, as a person would. */
export async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(url);
  await page.getByLabel('Coordinator token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
}
