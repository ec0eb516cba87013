/**
 * A coordinator that keeps refusing the agent (a wrong token, a missing or wrong client
 * certificate) is retried for as long as it lasts: each attempt must leave nothing behind. An
 * in-process HTTP server answers every request 403; the link retries every few milliseconds.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { pino } from 'pino';
import { createCoordinatorLink } from '../../../src/agent/coordinator-link.js';

const server = http.createServer((request, response) => {
  request.resume();
  response.writeHead(403, { 'content-type': 'application/json' });
  response.end(
    JSON.stringify({
      error: {
        status: 403,
        code: 'client_certificate_required',
        message: 'expected a client certificate for a agent token, received none',
      },
    }),
  );
});
after(() => new Promise((resolve) => server.close(resolve)));

test('a link refused hundreds of times in a row piles up no abort listeners', async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
  process.on('warning', onWarning);
  let requests = 0;
  server.on('request', () => requests++);
  const link = createCoordinatorLink({
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    token: 'agent-token-refused-000000',
    heartbeatMs: 1000,
    node: 'lon1-a',
    logger: pino({ level: 'silent' }),
    reconnect: { baseMs: 1, maxMs: 2 },
  });
  link.start();
  try {
    while (requests < 200) await new Promise((resolve) => setTimeout(resolve, 20));
  } finally {
    await link.stop();
    process.off('warning', onWarning);
  }
  assert.equal(link.connected(), false);
  assert.deepEqual(
    warnings.filter((w) => w.startsWith('MaxListenersExceededWarning')),
    [],
  );
});
