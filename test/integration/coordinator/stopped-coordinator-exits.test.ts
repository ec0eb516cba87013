/**
 * A closed coordinator leaves nothing running: the process that started it (with the dashboard,
 * whose history samples on a timer) ends by itself. Before the dashboard was wired explicitly
 * its history timer was never stopped.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const child = fileURLToPath(new URL('./start-and-close-main.ts', import.meta.url));

test('a process that starts a coordinator with the dashboard and closes it exits by itself', async () => {
  const process_ = spawn(process.execPath, ['--import', 'tsx', child], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  process_.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  process_.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // Not a speed assertion: a process that is still running this long after close never ends.
  const hung = setTimeout(() => process_.kill('SIGKILL'), 60_000);
  const [code, signal] = (await once(process_, 'exit')) as [number | null, NodeJS.Signals | null];
  clearTimeout(hung);
  assert.equal(signal, null, `still running after close (killed); it printed:\n${stdout}${stderr}`);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^history 200$/m, 'the dashboard was mounted and answering');
  const active = JSON.parse(/^active (.*)$/m.exec(stdout)?.[1] ?? 'null') as string[];
  assert.ok(Array.isArray(active), stdout);
  assert.ok(!active.includes('Timeout'), `timers still active after close: ${JSON.stringify(active)}`);
});
