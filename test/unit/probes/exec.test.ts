/**
 * The exec check with real processes: exit codes, stderr's first line, no shell, and a
 * timeout or abort that kills the whole process group, grandchildren included.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkSchema } from '../../../src/config/agent-schema.js';
import { createProbe } from '../../../src/probes/index.js';
import { waitFor } from './support/requirements.js';

const dir = mkdtempSync(join(tmpdir(), `herald-exec-${process.pid}-`));
after(() => rmSync(dir, { recursive: true, force: true }));

function execProbe(command: string[], timeout = 2000) {
  return createProbe(checkSchema.parse({ name: 'script', type: 'exec', command, timeout }));
}

/** Dead: no /proc entry, or a zombie waiting for its reaper. */
function isDead(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

async function pidFrom(file: string): Promise<number> {
  assert.ok(
    await waitFor(() => existsSync(file) && readFileSync(file, 'utf8').endsWith('\n'), 5000),
    `${file} not written`,
  );
  return Number(readFileSync(file, 'utf8').trim());
}

describe('the exec check', () => {
  test('exit 0 is up', async () => {
    const result = await execProbe(['true'])();
    assert.equal(result.status, 'up', result.detail);
    assert.match(result.detail, /^exit 0 in \d+ ms$/);
  });

  test('a non-zero exit is down with the first line of stderr', async () => {
    const result = await execProbe(['sh', '-c', 'echo "  proxy not ready" >&2; echo more >&2; exit 3'])();
    assert.equal(result.status, 'down');
    assert.equal(result.detail, 'exit code 3: proxy not ready');
  });

  test('a non-zero exit with nothing on stderr says so', async () => {
    const result = await execProbe(['false'])();
    assert.equal(result.detail, 'exit code 1 (nothing on stderr)');
  });

  test('a program killed by a signal is down naming the signal', async () => {
    const result = await execProbe(['sh', '-c', 'kill -TERM $$'])();
    assert.equal(result.status, 'down');
    assert.match(result.detail, /^killed by SIGTERM/);
  });

  test('arguments are not interpreted by a shell', async () => {
    const marker = join(dir, 'shell-ran');
    const result = await execProbe(['ls', `/nonexistent-herald;touch ${marker}`])();
    assert.equal(result.status, 'down');
    assert.match(result.detail, /^exit code 2: ls: .*nonexistent-herald/);
    assert.equal(existsSync(marker), false);
  });

  test('a program that does not exist is down naming it', async () => {
    const result = await execProbe(['/nonexistent/herald-check'])();
    assert.equal(result.status, 'down');
    assert.match(result.detail, /^cannot run \/nonexistent\/herald-check: .*ENOENT/);
  });

  test('a timeout kills the whole process group, the grandchild sleeping forever too', async () => {
    const pidFile = join(dir, 'timeout.pid');
    const result = await execProbe(['sh', '-c', `sleep 1000 & echo $! > ${pidFile}; wait`], 300)();
    assert.equal(result.status, 'down');
    assert.equal(result.detail, 'timeout after 300 ms waiting for sh to exit');
    const grandchild = await pidFrom(pidFile);
    assert.ok(await waitFor(() => isDead(grandchild), 3000), `grandchild ${grandchild} still alive`);
  });

  test('a check that exits 0 leaving a background child is up at once, and the child is killed', async () => {
    const pidFile = join(dir, 'background.pid');
    const result = await execProbe(['sh', '-c', `sleep 1000 & echo $! > ${pidFile}; exit 0`], 5000)();
    assert.equal(result.status, 'up', result.detail);
    assert.ok(result.durationMs < 4000, `took ${result.durationMs} ms`);
    const grandchild = await pidFrom(pidFile);
    assert.ok(await waitFor(() => isDead(grandchild), 3000), `background child ${grandchild} still alive`);
  });

  test('an abort kills the process group and resolves as aborted', async () => {
    const pidFile = join(dir, 'abort.pid');
    const controller = new AbortController();
    const pending = execProbe(
      ['sh', '-c', `echo $$ > ${pidFile}; sleep 1000`],
      10_000,
    )({ signal: controller.signal });
    const shell = await pidFrom(pidFile);
    controller.abort();
    const result = await pending;
    assert.equal(result.detail, 'aborted');
    assert.ok(await waitFor(() => isDead(shell), 3000), `sh ${shell} still alive`);
  });
});
