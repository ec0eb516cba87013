import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { startProxyWatch, watchTargets, type WatchTarget } from '../../../src/agent/proxy-watch.js';
import { agentConfigSchema } from '../../../src/config/agent-schema.js';

const logger = pino({ level: 'silent' });

async function listen(onSocket: (socket: Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer(onSocket);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

async function until(condition: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('proxy watch', () => {
  test('watches only SIP checks over TCP and TLS with watch on', () => {
    const config = agentConfigSchema.parse({
      node: 'n',
      site: 's',
      prefixes: ['198.51.100.10/32'],
      bgp: { localAs: 65001 },
      checks: [
        { name: 'udp', type: 'sip-options', transport: 'udp' },
        { name: 'tcp', type: 'sip-options', transport: 'tcp' },
        { name: 'tls', type: 'sip-options', transport: 'tls', serverName: 'sip.lab.test' },
        { name: 'off', type: 'sip-options', transport: 'tcp', port: 5070, watch: false },
        { name: 'plain', type: 'tcp', port: 2223 },
      ],
    });
    assert.deepEqual(watchTargets(config.checks), [
      { name: 'tcp', host: '127.0.0.1', port: 5060 },
      { name: 'tls', host: '127.0.0.1', port: 5061, tls: { serverName: 'sip.lab.test' } },
    ]);
  });

  test('keeps the connection alive with CRLF pings and reports nothing while it stays open', async () => {
    const received: Buffer[] = [];
    const { server, port } = await listen((socket) => socket.on('data', (d: Buffer) => received.push(d)));
    const lost: string[] = [];
    const watch = startProxyWatch({
      targets: [{ name: 'tcp', host: '127.0.0.1', port }],
      onLost: (_t, why) => lost.push(why),
      logger,
      keepaliveMs: 30,
    });
    try {
      await until(() => Buffer.concat(received).toString().includes('\r\n\r\n\r\n\r\n'));
      assert.equal(watch.connected(), 1);
      assert.deepEqual(lost, []);
    } finally {
      watch.stop();
      server.close();
    }
  });

  test('a proxy that dies: the close and then the refused reconnect are both reported', async () => {
    const sockets: Socket[] = [];
    const { server, port } = await listen((socket) => sockets.push(socket));
    const lost: string[] = [];
    const target: WatchTarget = { name: 'tcp', host: '127.0.0.1', port };
    const restored: string[] = [];
    const watch = startProxyWatch({
      targets: [target],
      onLost: (_t, why) => lost.push(why),
      onRestored: (t) => restored.push(t.name),
      logger,
    });
    try {
      await until(() => watch.connected() === 1 && sockets.length === 1);
      server.close();
      sockets[0]!.destroy();
      await until(() => lost.length >= 2);
      assert.deepEqual(lost.slice(0, 2), ['connection closed', 'reconnect refused']);
      await new Promise((resolve) => setTimeout(resolve, 700));
      assert.equal(lost.length, 2, 'later refused reconnects (backing off) report nothing more');
      // The proxy comes back on the same port: the watch reconnects and says so.
      const back = createServer(() => undefined);
      await new Promise<void>((resolve) => back.listen(port, '127.0.0.1', resolve));
      try {
        await until(() => restored.length === 1, 10_000);
        assert.equal(watch.connected(), 1);
      } finally {
        back.close();
      }
    } finally {
      watch.stop();
    }
  });

  test('a proxy that closes idle connections: reported as a close, reconnected quietly, with backoff', async () => {
    let connections = 0;
    const { server, port } = await listen((socket) => {
      connections += 1;
      setTimeout(() => socket.end(), 20); // closes "idle" connections almost at once
    });
    const lost: string[] = [];
    const watch = startProxyWatch({
      targets: [{ name: 'tcp', host: '127.0.0.1', port }],
      onLost: (_t, why) => lost.push(why),
      logger,
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.ok(
        lost.every((why) => why === 'connection closed'),
        lost.join(),
      );
      // 100, 200, 400, 800 ms backoff: a handful of connections, never a hammering loop.
      assert.ok(connections >= 2 && connections <= 6, `connections: ${connections}`);
    } finally {
      watch.stop();
      server.close();
    }
  });
});
