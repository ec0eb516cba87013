/**
 * Auto-waiting assertions on Playwright locators (playwright-core has no `expect`): each polls
 * the page until the condition holds or its timeout passes, then fails saying what it saw last.
 */
import type { Locator } from 'playwright-core';

const DEFAULT_TIMEOUT = 5000;

interface Options {
  timeout?: number;
}

async function poll(
  describe: string,
  read: () => Promise<unknown>,
  ok: (value: unknown) => boolean,
  timeout: number,
): Promise<void> {
  const deadline = Date.now() + timeout;
  let last: unknown;
  for (;;) {
    try {
      last = await read();
      if (ok(last)) return;
    } catch (error) {
      last = error instanceof Error ? error.message.split('\n').slice(0, 4).join(' | ') : error;
    }
    if (Date.now() > deadline)
      throw new Error(`expected ${describe} within ${timeout} ms; last saw: ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function matches(expected: string | RegExp, actual: unknown, exact: boolean): boolean {
  if (typeof actual !== 'string') return false;
  if (expected instanceof RegExp) return expected.test(actual);
  return exact ? actual.trim().replace(/\s+/g, ' ') === expected : actual.includes(expected);
}

export function expect(locator: Locator) {
  const name = locator.toString();
  const positive = (negate: boolean) => ({
    async toHaveAttribute(attribute: string, expected: string | RegExp, options: Options = {}) {
      await poll(
        `${name} ${negate ? 'not ' : ''}to have ${attribute}=${String(expected)}`,
        () => locator.getAttribute(attribute, { timeout: 500 }),
        (v) => matches(expected, v, true) !== negate,
        options.timeout ?? DEFAULT_TIMEOUT,
      );
    },
    async toHaveText(expected: string | RegExp, options: Options = {}) {
      await poll(
        `${name} ${negate ? 'not ' : ''}to have text ${String(expected)}`,
        () => locator.textContent({ timeout: 500 }),
        (v) => matches(expected, v, true) !== negate,
        options.timeout ?? DEFAULT_TIMEOUT,
      );
    },
    async toContainText(expected: string | RegExp, options: Options = {}) {
      await poll(
        `${name} ${negate ? 'not ' : ''}to contain ${String(expected)}`,
        () => locator.textContent({ timeout: 500 }),
        (v) => matches(expected, v, false) !== negate,
        options.timeout ?? DEFAULT_TIMEOUT,
      );
    },
    async toHaveClass(expected: RegExp, options: Options = {}) {
      await poll(
        `${name} ${negate ? 'not ' : ''}to have class ${String(expected)}`,
        () => locator.getAttribute('class', { timeout: 500 }),
        (v) => expected.test(String(v ?? '')) !== negate,
        options.timeout ?? DEFAULT_TIMEOUT,
      );
    },
    async toHaveCount(expected: number, options: Options = {}) {
      await poll(
        `${name} ${negate ? 'not ' : ''}to count ${expected}`,
        () => locator.count(),
        (v) => (v === expected) !== negate,
        options.timeout ?? DEFAULT_TIMEOUT,
      );
    },
    async toBeDisabled(options: Options = {}) {
      await poll(
        `${name} ${negate ? 'not ' : ''}to be disabled`,
        () => locator.isDisabled({ timeout: 500 }),
        (v) => v === !negate,
        options.timeout ?? DEFAULT_TIMEOUT,
      );
    },
    async toBeVisible(options: Options = {}) {
      await locator.waitFor({
        state: negate ? 'hidden' : 'visible',
        timeout: options.timeout ?? DEFAULT_TIMEOUT,
      });
    },
    async toBeHidden(options: Options = {}) {
      await locator.waitFor({
        state: negate ? 'visible' : 'hidden',
        timeout: options.timeout ?? DEFAULT_TIMEOUT,
      });
    },
  });
  return { ...positive(false), not: positive(true) };
}
