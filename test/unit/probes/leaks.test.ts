/**
 * The agent probes every 200 ms forever: after hundreds of probes of every kind — answered,
 * refused, timed out, over every transport — no socket, timer, child process or file
 * descriptor may be left behind.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { checkSchema } from '../../../src/config/agent-schema.js';
import { createProbe } from '../../../src/probes/index.js';
import type { Probe } from '../../../src/probes/types.js';
import { hasOpenssl, makeTestCerts, type TestCerts } from '../../support/certs.js';
import { waitFor } from './support/requirements.js';
import { replyTo, startSipServer, type SipTestServer } from './support/sip-test-server.js';

let certs: TestCerts | undefined;
const servers: SipTestServer[] = [];
let silentTcp: Server | undefined;
const silentSockets = new Set<Socket>();

before(async () => {
  if (hasOpenssl()) certs = await makeTestCerts();
  // Without openssl the TLS kinds are left out; CI (HERALD_REQUIRE_LAB=1) must not lose them quietly.
  else if (process.env.HERALD_REQUIRE_LAB === '1')
    throw new Error('openssl not installed (it makes the test certificates); HERALD_REQUIRE_LAB=1 needs it');
});
after(async () => {
  try {
    for (const server of servers) await server.close().catch(() => undefined);
    for (const socket of silentSockets) socket.destroy();
    await new Promise<void>((resolve) => (silentTcp ? silentTcp.close(() => resolve()) : resolve()));
  } finally {
    await certs?.cleanup();
  }
});

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Handles and timers that a leaking probe would leave (sockets, timers, child processes, pipes). */
function activeResources(): string[] {
  return process
    .getActiveResourcesInfo()
    .filter((r) => /UDP|TCP|TLS|Timeout|Process|Pipe/.test(r))
    .sort();
}

function check(config: Record<string, unknown>): Probe {
  return createProbe(checkSchema.parse({ name: 'leak', ...config }));
}

test('hundreds of probes of every kind leave no sockets, timers, processes or descriptors behind', async () => {
  const ok = (request: Parameters<Parameters<typeof startSipServer>[1]>[0]) => [replyTo(request, 200, 'OK')];
  const udp = await startSipServer('udp', ok);
  const tcp = await startSipServer('tcp', ok);
  const silentUdp = await startSipServer('udp', () => []);
  servers.push(udp, tcp, silentUdp);
  silentTcp = createServer((socket) => {
    // Read (and drop) so the server side sees the client's close; a paused socket never would.
    socket.resume();
    silentSockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => silentSockets.delete(socket));
  });
  await new Promise<void>((resolve) => silentTcp!.listen(0, '127.0.0.1', resolve));
  const silentPort = (silentTcp.address() as { port: number }).port;
  const closed = await startSipServer('tcp', () => []);
  const refusedPort = closed.port;
  await closed.close();

  const kinds: [string, Probe, number][] = [
    ['udp 200', check({ type: 'sip-options', transport: 'udp', port: udp.port }), 150],
    ['tcp 200', check({ type: 'sip-options', transport: 'tcp', port: tcp.port }), 150],
    ['udp timeout', check({ type: 'sip-options', transport: 'udp', port: silentUdp.port, timeout: 20 }), 30],
    ['tcp refused', check({ type: 'tcp', port: refusedPort }), 60],
    ['tcp silent', check({ type: 'sip-options', transport: 'tcp', port: silentPort, timeout: 20 }), 30],
    ['tls silent handshake', check({ type: 'tls', port: silentPort, timeout: 20 }), 30],
    ['exec', check({ type: 'exec', command: ['true'] }), 20],
  ];
  if (certs) {
    const tls = await startSipServer('tls', ok, {
      key: readFileSync(certs.valid.key),
      cert: readFileSync(certs.valid.chain),
    });
    servers.push(tls);
    kinds.push([
      'tls 200',
      check({ type: 'sip-options', transport: 'tls', port: tls.port, caFile: certs.ca.cert }),
      60,
    ]);
    kinds.push(['tls check', check({ type: 'tls', port: tls.port, caFile: certs.ca.cert }), 60]);
  }

  // Warm up once per kind: first use loads modules and may open lasting descriptors (DNS, crypto).
  for (const [name, probe] of kinds) {
    const result = await probe();
    assert.equal(result.status === 'up', !/timeout|refused|silent/.test(name), `${name}: ${result.detail}`);
  }
  await waitFor(() => silentSockets.size === 0, 2000);
  const fdsBefore = openFds();
  const resourcesBefore = activeResources();

  for (const [name, probe, count] of kinds) {
    // A few at a time, as an agent with several checks would run them.
    for (let i = 0; i < count; i += 5) {
      const results = await Promise.all(Array.from({ length: Math.min(5, count - i) }, () => probe()));
      for (const result of results)
        assert.equal(
          result.status === 'up',
          !/timeout|refused|silent/.test(name),
          `${name}: ${result.detail}`,
        );
    }
  }

  const settled = await waitFor(
    () => openFds() <= fdsBefore && activeResources().length <= resourcesBefore.length,
    5000,
    20,
  );
  assert.ok(
    settled,
    `leaked: fds ${fdsBefore} → ${openFds()}, resources ${resourcesBefore.join(',')} → ${activeResources().join(',')}`,
  );
});
