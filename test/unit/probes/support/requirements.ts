/**
 * Lab requirements for probe tests: a test that needs root, the openssl CLI or Kamailio skips
 * with a clear reason when it is missing — unless HERALD_REQUIRE_LAB=1, where it fails.
 */
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';

export function commandExists(command: string, args: string[] = ['-v']): boolean {
  const result = spawnSync(command, args, { stdio: 'ignore' });
  return result.error === undefined;
}

/** Returns true when the test may go on; otherwise skips it (or fails it under HERALD_REQUIRE_LAB=1). */
export function requireLab(t: TestContext, available: boolean, reason: string): boolean {
  if (available) return true;
  if (process.env.HERALD_REQUIRE_LAB === '1') assert.fail(`${reason} (HERALD_REQUIRE_LAB=1)`);
  t.skip(reason);
  return false;
}

/** Polls `condition` every `intervalMs` until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  intervalMs = 10,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return condition();
}
