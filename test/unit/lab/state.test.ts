/** The named lab lock: a second lab refuses while the first lives; a dead owner's lock is taken over. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  acquireLock,
  LabBusyError,
  lockFile,
  readLock,
  readState,
  writeState,
} from '../../../src/lab/state.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'herald-lab-lock-test-'));
  process.env.HERALD_LAB_LOCK_DIR = dir;
});
after(() => {
  delete process.env.HERALD_LAB_LOCK_DIR;
  rmSync(dir, { recursive: true, force: true });
});

describe('lab lock', () => {
  it('refuses a second lab with the same name while the owner lives, naming how to stop it', () => {
    const release = acquireLock('demo', '/tmp/herald-lab-aaaaaa', () => assert.fail('not stale'));
    try {
      assert.throws(
        () => acquireLock('demo', '/tmp/herald-lab-bbbbbb', () => assert.fail('not stale')),
        (error: unknown) => {
          assert.ok(error instanceof LabBusyError);
          assert.match(error.message, /already running \(pid \d+, run directory \/tmp\/herald-lab-aaaaaa\)/);
          assert.match(error.message, /herald lab down --name demo/);
          return true;
        },
      );
      const other = acquireLock('other', '/tmp/herald-lab-cccccc', () => {});
      other();
    } finally {
      release();
    }
    assert.equal(existsSync(lockFile('demo')), false, 'released');
  });

  it('takes over a lock whose owner died, cleaning its leftovers first', async () => {
    const child = spawn(process.execPath, ['-e', '']);
    const deadPid = child.pid!;
    await new Promise((resolve) => child.on('exit', resolve));
    writeFileSync(
      lockFile('stale'),
      JSON.stringify({ name: 'stale', pid: deadPid, runDir: '/tmp/herald-lab-dead01', createdAt: 1 }),
    );
    const cleaned: string[] = [];
    const release = acquireLock('stale', '/tmp/herald-lab-new001', (lock) => cleaned.push(lock.runDir));
    try {
      assert.deepEqual(cleaned, ['/tmp/herald-lab-dead01']);
      assert.equal(readLock('stale')?.pid, process.pid);
    } finally {
      release();
    }
  });

  it('refuses lab names that are not plain file names', () => {
    assert.throws(() => lockFile('../etc'), /lab name: expected 1-40 letters/);
  });
});

describe('state file', () => {
  it('round-trips and names the file when it is unreadable', () => {
    const file = join(dir, 'state.json');
    const state = {
      version: 1 as const,
      runId: 'abc',
      runDir: '/tmp/herald-lab-abc',
      ownerPid: 1,
      createdAt: 2,
      status: 'up' as const,
      topology: { regions: [{ name: 'eu' }], pops: [{ name: 'p', region: 'eu', nodes: ['n'] }], ipv6: false },
      hostLink: false,
      managementSubnet: '198.51.100.128/27' as const,
      agent: 'herald',
    };
    writeState(file, state);
    assert.deepEqual(readState(file), state);
    assert.throws(
      () => readState(join(dir, 'missing.json')),
      /missing\.json: expected a readable file, received ENOENT/,
    );
  });
});
