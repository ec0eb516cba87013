/** Reserving a management subnet for a host link: distinct per live lab, a dead owner's taken over. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  freeManagementSubnets,
  reservationFile,
  reserveManagementSubnet,
} from '../../../src/lab/management.js';
import { findProgram } from '../../../src/lab/preflight.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'herald-lab-subnet-test-'));
  process.env.HERALD_LAB_LOCK_DIR = dir;
});
after(() => {
  delete process.env.HERALD_LAB_LOCK_DIR;
  rmSync(dir, { recursive: true, force: true });
});

describe('reserveManagementSubnet', { skip: !findProgram('ip') && 'iproute2 is not installed' }, () => {
  it('gives each live lab its own subnet and frees it on release', async () => {
    const free = await freeManagementSubnets();
    assert.ok(free.length >= 2, `free management subnets here: ${free.join(', ')}`);
    const first = await reserveManagementSubnet('/tmp/herald-lab-one');
    const second = await reserveManagementSubnet('/tmp/herald-lab-two');
    assert.ok(first && second);
    assert.notEqual(first.subnet, second.subnet);
    assert.equal(existsSync(reservationFile(first.subnet)), true);
    first.release();
    assert.equal(existsSync(reservationFile(first.subnet)), false, 'the released reservation is gone');
    // Which free subnet comes next depends on the host's routes, and labs of other test files
    // running meanwhile take some: only that it is never the one still reserved is certain.
    const third = await reserveManagementSubnet('/tmp/herald-lab-three');
    assert.ok(third);
    assert.notEqual(third.subnet, second.subnet, 'a live reservation is never handed out twice');
    second.release();
    third.release();
  });

  it('takes over a reservation whose owner died', async () => {
    const [subnet] = await freeManagementSubnets();
    assert.ok(subnet);
    const child = spawn(process.execPath, ['-e', '']);
    await new Promise((resolve) => child.on('exit', resolve));
    writeFileSync(
      reservationFile(subnet),
      JSON.stringify({ pid: child.pid, runDir: '/tmp/herald-lab-dead' }),
    );
    const reserved = await reserveManagementSubnet('/tmp/herald-lab-alive');
    assert.equal(reserved?.subnet, subnet);
    reserved?.release();
  });
});
