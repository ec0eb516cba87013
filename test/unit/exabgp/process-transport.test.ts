/** The helper-process transport: lines in from stdin, commands out on stdout, and how it ends. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { PassThrough, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../../../src/util/log.js';
import { createProcessTransport } from '../../../src/exabgp/process-transport.js';
import { TransportWriteError } from '../../../src/exabgp/transport.js';
import { waitFor } from './fixtures/lab-support.js';

const logger = createLogger('process-transport-test', 'silent');
const child = fileURLToPath(new URL('./fixtures/stdio-child.ts', import.meta.url));

function streams() {
  const input = new PassThrough();
  const output = new PassThrough();
  let written = '';
  output.on('data', (chunk: Buffer) => (written += chunk.toString()));
  return { input, output, written: () => written };
}

test('lines from ExaBGP arrive whole, commands leave one per line', async () => {
  const { input, output, written } = streams();
  const transport = createProcessTransport({ logger, input, output });
  const lines: string[] = [];
  transport.onLine((line) => lines.push(line));
  input.write('do');
  input.write('ne\r\n{ "exabgp": "4.0.1", ');
  input.write('"type": "state" }\nerror\n');
  await waitFor(() => lines.length === 3, 2000, 'three lines');
  assert.deepEqual(lines, ['done', '{ "exabgp": "4.0.1", "type": "state" }', 'error']);
  transport.write('withdraw route 198.51.100.10/32');
  transport.write('show neighbor summary');
  await waitFor(() => written().length > 0, 2000, 'output');
  assert.equal(written(), 'withdraw route 198.51.100.10/32\nshow neighbor summary\n');
  await transport.close();
});

test('a command with a line break never reaches stdout', () => {
  const { input, output, written } = streams();
  const transport = createProcessTransport({ logger, input, output });
  assert.throws(() => transport.write('withdraw route 198.51.100.10/32\nshutdown'), TransportWriteError);
  assert.throws(() => transport.write(''), TransportWriteError);
  assert.equal(written(), '');
});

test('end of stdin closes the transport once, cleanly; writing afterwards throws', async () => {
  const { input, output } = streams();
  const transport = createProcessTransport({ logger, input, output });
  const closes: Array<Error | null> = [];
  transport.onClose((error) => closes.push(error));
  input.end('done\n');
  await waitFor(() => closes.length > 0, 2000, 'close');
  assert.deepEqual(closes, [null]);
  assert.equal(transport.closed, true);
  assert.throws(() => transport.write('withdraw route 198.51.100.10/32'), /closed/);
});

test('an error on stdout closes the transport with that error instead of crashing', async () => {
  const input = new PassThrough();
  const output = new Writable({
    write(_chunk, _encoding, callback) {
      callback(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    },
  });
  const transport = createProcessTransport({ logger, input, output });
  const closed = new Promise<Error | null>((resolve) => transport.onClose(resolve));
  transport.write('withdraw route 198.51.100.10/32');
  const error = await closed;
  assert.equal((error as NodeJS.ErrnoException).code, 'EPIPE');
});

test('a real broken stdout (EPIPE) ends the transport without crashing the process', async () => {
  const proc = spawn(process.execPath, ['--import', 'tsx', child, 'epipe'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  proc.stdout.destroy(); // ExaBGP stops reading the helper's commands
  const [code] = await once(proc, 'exit');
  proc.stdin.destroy();
  assert.equal(code, 0, stderr);
  assert.match(stderr, /closed EPIPE/);
});

test('stdin is always read to its end, even with nobody listening for lines (ExaBGP would block otherwise)', { timeout: 20_000 }, async () => {
  const proc = spawn(process.execPath, ['--import', 'tsx', child, 'read'], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const line = `{ "exabgp": "4.0.1", "type": "update", "padding": "${'x'.repeat(200)}" }\n`;
  const lines = 20_000; // about 4 MB, far more than a pipe buffer
  proc.stdin.end(line.repeat(lines));
  const [code] = await once(proc, 'exit');
  assert.equal(code, 0, stderr);
  assert.match(stderr, /closed none/, 'the end of stdin was reached, so everything before it was read');
});
