/** The lab's command runner: stdout as printed, and failures that say which command and why. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LabCommandError, run, runSyncQuiet } from '../../../src/lab/exec.js';

test('resolves with stdout as printed, feeding input when given', async () => {
  assert.equal(await run('echo', ['hello']), 'hello\n');
  assert.equal(await run('cat', [], { input: 'line one\n' }), 'line one\n');
  assert.equal(
    await run('sh', ['-c', 'printf %s "$X"'], { env: { X: 'only this', PATH: process.env.PATH } }),
    'only this',
  );
});

test('a failing command rejects naming the command, its exit status and its stderr', async () => {
  await assert.rejects(run('sh', ['-c', 'echo "no such device" >&2; exit 3']), (error: unknown) => {
    assert.ok(error instanceof LabCommandError);
    assert.equal(error.exitCode, 3);
    assert.match(error.message, /^`sh -c .*` failed \(exit 3\): no such device$/);
    return true;
  });
  await assert.rejects(run('herald-no-such-command', []), /failed \(exit ENOENT\)/);
  await assert.rejects(
    run('sleep', ['10'], { timeoutMs: 100 }),
    /`sleep 10` failed \(exit SIGTERM\): .*timed out/,
  );
});

test('the synchronous cleanup variant never throws', () => {
  assert.equal(runSyncQuiet('echo', ['x']), 'x\n');
  assert.equal(runSyncQuiet('false', []), undefined);
  assert.equal(runSyncQuiet('herald-no-such-command', []), undefined);
});
