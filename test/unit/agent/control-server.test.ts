import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Server } from 'node:http';
import { startControlServer } from '../../../src/agent/control-server.js';
import type { AgentStatus } from '../../../src/wire/agent-status.js';

describe('agent control listener', () => {
  let server: Server;
  let base: string;
  const drains: Array<[string, number | undefined]> = [];
  let localDrain = false;
  let diskFull = false;

  before(async () => {
    server = await startControlServer(
      {
        status: () => ({ node: 'n1', drains: localDrain ? [{ id: 'local' }] : [] }) as unknown as AgentStatus,
        metrics: async () => 'probe_success{check="sip-udp",transport="udp"} 1\n',
        drain: (reason, holdMs) => {
          if (diskFull) throw new Error('ENOSPC: no space left on device');
          drains.push([reason, holdMs]);
          localDrain = true;
        },
        undrain: () => {
          const had = localDrain;
          localDrain = false;
          return had;
        },
      },
      { host: '127.0.0.1', port: 0 },
      () => {},
    );
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());

  const post = (path: string, body: unknown, type = 'application/json') =>
    fetch(base + path, {
      method: 'POST',
      headers: { 'content-type': type },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  test('GET /status and /metrics answer', async () => {
    assert.equal(((await (await fetch(`${base}/status`)).json()) as { node: string }).node, 'n1');
    assert.match(await (await fetch(`${base}/metrics`)).text(), /probe_success/);
  });

  test('a drain without a reason is refused with the field named, and nothing is drained', async () => {
    const response = await post('/drain', { hold: 'soon' });
    assert.equal(response.status, 400);
    const { problems } = ((await response.json()) as { error: { problems: string[] } }).error;
    assert.ok(
      problems.some((p) => p.startsWith('reason: expected string, received nothing')),
      problems.join(),
    );
    assert.ok(
      problems.some((p) => p.startsWith('hold: expected a duration')),
      problems.join(),
    );
    assert.equal(drains.length, 0);
    assert.equal((await post('/drain', '{not json')).status, 400);
  });

  test('a drain with a reason and hold is recorded; undrain releases it once', async () => {
    assert.equal((await post('/drain', { reason: 'kernel upgrade', hold: '2s' })).status, 200);
    assert.deepEqual(drains.at(-1), ['kernel upgrade', 2000]);
    assert.equal((await post('/undrain', {})).status, 200);
    assert.equal((await post('/undrain', {})).status, 409);
  });

  test('a drain the disk refuses answers 503 and says nothing changed', async () => {
    diskFull = true;
    const response = await post('/drain', { reason: 'x' });
    diskFull = false;
    assert.equal(response.status, 503);
    assert.match(
      ((await response.json()) as { error: { message: string } }).error.message,
      /nothing changed.*ENOSPC/,
    );
  });

  test('oversized bodies and unknown routes are refused', async () => {
    assert.equal((await post('/drain', { reason: 'x'.repeat(20_000) })).status, 413);
    assert.equal((await fetch(`${base}/nope`)).status, 404);
  });
});
