/** The TCP connect check against a real listener on loopback. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { checkSchema } from '../../../src/config/agent-schema.js';
import { createProbe } from '../../../src/probes/index.js';
import { waitFor } from './support/requirements.js';

function tcpProbe(port: number, timeout = 1000) {
  return createProbe(checkSchema.parse({ name: 'port', type: 'tcp', port, timeout }));
}

test('a listening port is up, and the connection is closed afterwards', async () => {
  const open = new Set<Socket>();
  let accepted = 0;
  const server = createServer((socket) => {
    accepted += 1;
    open.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => open.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  try {
    const result = await tcpProbe(port)();
    assert.equal(result.status, 'up', result.detail);
    assert.equal(result.answered, true);
    assert.equal(result.target, `tcp:127.0.0.1:${port}`);
    assert.ok(
      await waitFor(() => accepted === 1 && open.size === 0, 2000),
      'the probe left its connection open',
    );
  } finally {
    for (const socket of open) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test('a closed port is down as refused', async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const result = await tcpProbe(port)();
  assert.equal(result.status, 'down');
  assert.equal(result.detail, 'connection refused');
  assert.equal(result.answered, false);
});
