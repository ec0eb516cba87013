/**
 * An agent meeting a coordinator from before the WebSocket link: the real coordinator behind a
 * pass-through proxy that answers every upgrade as an old coordinator's router does (404, no
 * such resource) and forwards everything else. The link falls back to POST reports and the SSE
 * push stream: the report arrives and a drain comes down. The same link against the coordinator
 * itself uses the WebSocket.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { createCoordinatorLink, type CoordinatorLink } from '../../../src/agent/coordinator-link.js';
import { coordinatorConfigSchema } from '../../../src/coordinator/config-schema.js';
import { startCoordinator, type RunningCoordinator } from '../../../src/coordinator/run-coordinator.js';
import { SqliteStore } from '../../../src/coordinator/store/sqlite-store.js';
import type { AgentDesired, AgentStatus } from '../../../src/wire/agent-status.js';
import { requestJson } from '../../../src/wire/http-client.js';
import { PREFIX, tempDir, TOKENS, waitFor } from '../coordinator/harness.js';

const sites = ['lon1', 'fra1'].map((name) => ({
  name,
  region: 'eu',
  location: { lat: 0, lon: 0 },
  nodes: [`${name}-a`],
}));

class LogSink extends Writable {
  readonly lines: { level: number; msg: string; transport?: string }[] = [];
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    for (const line of chunk.toString('utf8').split('\n').filter(Boolean))
      this.lines.push(JSON.parse(line) as { level: number; msg: string });
    done();
  }
}

function report(node: string): AgentStatus {
  const now = Date.now();
  return {
    node,
    site: node.slice(0, 4),
    version: 'test',
    startedAt: now - 1000,
    reportedAt: now,
    state: 'UP',
    healthy: true,
    holdDown: { active: false, remainingMs: 0, penalty: 0, flaps: 0 },
    prefixes: [
      {
        prefix: PREFIX,
        state: 'UP',
        desired: 'announce',
        acknowledged: 'announce',
        acknowledgedAt: now,
        drainedBy: [],
      },
    ],
    checks: [],
    drains: [],
    neighbors: [],
    exabgp: { ackFailures: 0, lastError: null },
  };
}

describe('the agent link against a coordinator without WebSocket', () => {
  const tmp = tempDir('herald-link-fallback-');
  let running: RunningCoordinator;
  let proxy: http.Server;
  let oldUrl: string;
  const links: CoordinatorLink[] = [];

  before(async () => {
    running = await startCoordinator(
      coordinatorConfigSchema.parse({
        listen: { host: '127.0.0.1', port: 0 },
        dataDir: tmp.dir,
        inventory: { sites },
        policy: { minAnnouncingSites: 0, regionFloor: false, defaultHold: 0 },
        tokens: [
          { name: 'alice', role: 'operator', token: TOKENS.alice },
          ...sites.map((s) => ({
            name: `agent-${s.nodes[0]}`,
            role: 'agent',
            node: s.nodes[0],
            token: TOKENS.agent(s.nodes[0]!),
          })),
        ],
        agents: { staleAfter: 5000, keepalive: 300 },
      }),
      { logger: pino({ level: 'silent' }), store: new SqliteStore(':memory:'), extensions: [], tickMs: 100 },
    );
    const target = new URL(running.server.url);
    // No 'upgrade' listener: Node hands upgrade requests to this handler, as on an old coordinator.
    proxy = http.createServer((request, response) => {
      if (request.headers.upgrade) {
        response.writeHead(404, { 'content-type': 'application/json' });
        response.end(
          JSON.stringify({ error: { status: 404, code: 'not_found', message: 'no such resource' } }),
        );
        return;
      }
      const forward = http.request(
        {
          host: target.hostname,
          port: target.port,
          path: request.url,
          method: request.method,
          headers: request.headers,
        },
        (answer) => {
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
        },
      );
      forward.on('error', () => response.destroy());
      request.pipe(forward);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    oldUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  });

  after(async () => {
    await Promise.all(links.map((link) => link.stop()));
    proxy.closeAllConnections();
    proxy.close();
    await running.close();
    tmp.remove();
  });

  function start(node: string, url: string) {
    const sink = new LogSink();
    const desired: AgentDesired[] = [];
    const link = createCoordinatorLink({
      url,
      token: TOKENS.agent(node),
      heartbeatMs: 200,
      node,
      logger: pino({ level: 'debug' }, sink),
      reconnect: { baseMs: 50, maxMs: 300 },
    });
    link.onDesired((d) => desired.push(d));
    link.report(report(node));
    link.start();
    links.push(link);
    return { link, sink, desired };
  }

  test('falls back to POST reports and the SSE stream, and still follows a drain', async () => {
    const { link, sink, desired } = start('lon1-a', oldUrl);
    await waitFor(() => link.connected(), 'the link to connect');
    assert.ok(
      sink.lines.some((l) => l.msg.startsWith('this coordinator has no WebSocket link')),
      'the fallback is logged',
    );
    const connected = sink.lines.find((l) => l.msg === 'connected to the coordinator');
    assert.notEqual(connected?.transport, 'websocket');
    await waitFor(() => running.coordinator.nodeReport('lon1-a'), 'the POSTed report to arrive');

    const answer = await requestJson({ baseUrl: oldUrl, token: TOKENS.alice }, 'POST', '/api/v1/drains', {
      site: 'lon1',
      node: 'lon1-a',
      reason: 'old coordinator',
    });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    const id = (answer.body as { drain: { id: string } }).drain.id;
    await waitFor(
      () => desired.some((d) => d.drains.some((x) => x.id === id)),
      'the drain down the SSE stream',
    );
    assert.equal(sink.lines.filter((l) => l.level >= 50).length, 0, sink.lines.map((l) => l.msg).join('\n'));
  });

  test('against the coordinator itself the same link uses the WebSocket', async () => {
    const { link, sink } = start('fra1-a', running.server.url);
    await waitFor(() => link.connected(), 'the link to connect');
    assert.equal(sink.lines.find((l) => l.msg === 'connected to the coordinator')?.transport, 'websocket');
    assert.ok(!sink.lines.some((l) => l.msg.startsWith('this coordinator has no WebSocket link')));
  });
});
