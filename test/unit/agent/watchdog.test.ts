import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, test } from 'node:test';

const watchdogModule = new URL('../../../src/agent/watchdog.ts', import.meta.url).pathname;

/** Runs a child that starts the watchdog and then does `then` (JS source). */
async function child(
  then: string,
): Promise<{ signal: NodeJS.Signals | null; code: number | null; stderr: string }> {
  const source = `import { startWatchdog } from ${JSON.stringify(watchdogModule)};\nconst w = startWatchdog(600);\n${then}`;
  const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', source], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d));
  const killer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
  const [code, signal] = (await once(proc, 'exit')) as [number | null, NodeJS.Signals | null];
  clearTimeout(killer);
  return { code, signal, stderr };
}

describe('watchdog', () => {
  test('a wedged event loop gets the process killed (so ExaBGP respawns a fresh agent)', async () => {
    const started = Date.now();
    const result = await child('setTimeout(() => { for (;;) {} }, 300);');
    assert.equal(result.signal, 'SIGKILL');
    assert.match(result.stderr, /event loop stalled/);
    assert.ok(Date.now() - started < 15_000);
  });

  test('a healthy event loop is left alone', async () => {
    const result = await child('setTimeout(() => { w.stop(); process.exit(7); }, 2500);');
    assert.equal(result.signal, null);
    assert.equal(result.code, 7);
  });
});
