/**
 * deleteNamespace, the teardown tests use for namespaces they created: a process still running
 * inside is stopped and the namespace is really gone afterwards; a name that does not exist is
 * not an error (the test failed before creating it).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { deleteNamespace, listNamespacesSync } from '../../../src/lab/network.js';
import { isAlive } from '../../../src/lab/processes.js';
import { waitFor } from '../../../src/lab/wait.js';
import { labAvailable, missingForLab } from '../exabgp/fixtures/lab-support.js';

const runId = () => Math.random().toString(36).slice(2, 8);

describe('deleteNamespace', () => {
  it('stops the processes inside and leaves no namespace behind', async (t) => {
    if (!labAvailable(t, missingForLab({ root: true, commands: ['ip', 'sleep'] }))) return;
    const netns = `hntd-${runId()}`;
    execFileSync('ip', ['netns', 'add', netns]);
    try {
      const sleeper = spawn('ip', ['netns', 'exec', netns, 'sleep', '600'], { stdio: 'ignore' });
      const pid = sleeper.pid;
      assert.ok(pid, 'sleep started');
      const exited = new Promise((resolve) => sleeper.once('exit', resolve));
      // `ip netns exec` execs the command, so the pid is listed once the exec has happened.
      await waitFor(
        () => execFileSync('ip', ['netns', 'pids', netns], { encoding: 'utf8' }),
        (pids) => pids.split(/\s+/).includes(String(pid)),
        { timeoutMs: 5000, description: `sleep inside ${netns}` },
      );

      await deleteNamespace(netns);

      assert.ok(!listNamespacesSync().includes(netns), `${netns} is gone`);
      await exited;
      assert.equal(isAlive(pid), false, 'the process that ran inside was stopped');
    } finally {
      spawnSync('ip', ['netns', 'delete', netns], { stdio: 'ignore' });
    }
  });

  it('resolves for a namespace that does not exist', async (t) => {
    if (!labAvailable(t, missingForLab({ root: true, commands: ['ip'] }))) return;
    await deleteNamespace(`hntd-${runId()}-never`);
  });
});
