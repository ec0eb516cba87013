/**
 * The named-pipe transport against real FIFOs, with the test playing ExaBGP's pipe relay the way
 * ExaBGP 4.2 does it (reads exabgp.in through an O_RDWR descriptor; opens exabgp.out, writes one
 * answer line and closes it again, every time).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../../src/util/log.js';
import { createPipeTransport } from '../../../src/exabgp/pipe-transport.js';
import { TransportWriteError } from '../../../src/exabgp/transport.js';
import { waitFor } from './fixtures/lab-support.js';

const logger = createLogger('pipe-transport-test', 'silent');

function fifoDir(t: TestContext, make: string[] = ['exabgp.in', 'exabgp.out']): string {
  const dir = mkdtempSync(join(tmpdir(), `herald-pipes-${process.pid}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const name of make) {
    const result = spawnSync('mkfifo', ['-m', '600', join(dir, name)]);
    assert.equal(result.status, 0, `mkfifo failed: ${String(result.stderr)}`);
  }
  return dir;
}

/** ExaBGP's relay answering on exabgp.out: open, write one line, close. */
function relayAnswer(dir: string, line: string): void {
  const fd = openSync(join(dir, 'exabgp.out'), constants.O_WRONLY | constants.O_NONBLOCK);
  try {
    writeSync(fd, `${line}\n`);
  } finally {
    closeSync(fd);
  }
}

test('missing or wrong files are refused, naming the path and the fix', (t) => {
  const dir = fifoDir(t, ['exabgp.out']);
  assert.throws(
    () => createPipeTransport({ dir, logger }),
    new RegExp(`${join(dir, 'exabgp.in')}: expected a named pipe .*mkfifo.*received nothing`),
  );
  writeFileSync(join(dir, 'exabgp.in'), '');
  assert.throws(() => createPipeTransport({ dir, logger }), /received a regular file/);
});

test('with nobody reading exabgp.in a write fails at once and leaves nothing behind', async (t) => {
  const dir = fifoDir(t);
  const transport = createPipeTransport({ dir, logger });
  t.after(() => transport.close());
  assert.throws(
    () => transport.write('withdraw route 198.51.100.10/32'),
    (error: unknown) => error instanceof TransportWriteError && /nothing reads .*exabgp\.in/.test(error.message),
  );
  // A reader that arrives later (a new ExaBGP) finds no stale command.
  const fd = openSync(join(dir, 'exabgp.in'), constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    let stale = 0;
    try {
      stale = readSync(fd, Buffer.alloc(100));
    } catch (error) {
      assert.equal((error as NodeJS.ErrnoException).code, 'EAGAIN');
    }
    assert.equal(stale, 0);
  } finally {
    closeSync(fd);
  }
});

test('commands reach the relay; answers arrive line by line and the pipe survives each writer closing', async (t) => {
  const dir = fifoDir(t);
  const transport = createPipeTransport({ dir, logger });
  t.after(() => transport.close());
  const lines: string[] = [];
  transport.onLine((line) => lines.push(line));

  const relayIn = new Socket({
    fd: openSync(join(dir, 'exabgp.in'), constants.O_RDWR | constants.O_NONBLOCK),
    readable: true,
    writable: false,
  });
  t.after(() => relayIn.destroy());
  let received = '';
  relayIn.on('data', (chunk: Buffer) => (received += chunk.toString()));

  transport.write('announce route 198.51.100.10/32 next-hop self med 100');
  await waitFor(() => received.includes('\n'), 2000, 'the command at the relay');
  assert.equal(received, 'announce route 198.51.100.10/32 next-hop self med 100\n');

  relayAnswer(dir, 'done');
  relayAnswer(dir, 'error');
  await waitFor(() => lines.length === 2, 2000, 'two answers', () => JSON.stringify(lines));
  assert.deepEqual(lines, ['done', 'error']);
  assert.equal(transport.closed, false, 'a writer closing .out is not the end');
});

test('close releases exabgp.out', async (t) => {
  const dir = fifoDir(t);
  const transport = createPipeTransport({ dir, logger });
  // While open, the transport is a reader: a relay can open .out for writing.
  relayAnswer(dir, 'done');
  await transport.close();
  assert.equal(transport.closed, true);
  assert.throws(() => relayAnswer(dir, 'done'), /ENXIO/, 'no reader is left on .out');
});
