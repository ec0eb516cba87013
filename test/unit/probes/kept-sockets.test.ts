/**
 * Probes keep their sockets across rounds (udp-exchange.ts, kept-stream.ts: UDP and SIP over
 * TCP) without changing what a round means: a fresh branch per round, a kept connection closed
 * by the server is not a failure, a dead server is still refused at once. TLS checks connect and
 * verify the certificate in full every round, so a certificate changed under them fails the
 * next round.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { checkSchema } from '../../../src/config/agent-schema.js';
import { createProbe } from '../../../src/probes/index.js';
import { hasOpenssl, makeTestCerts, type TestCerts } from '../../support/certs.js';
import { requireLab } from './support/requirements.js';
import { replyTo, startSipServer, type Responder } from './support/sip-test-server.js';

let certs: TestCerts | undefined;
before(async () => {
  if (hasOpenssl()) certs = await makeTestCerts();
});
after(async () => {
  await certs?.cleanup();
});

const ok: Responder = (request) => [replyTo(request, 200, 'OK')];

function sipProbe(transport: 'udp' | 'tcp' | 'tls', port: number) {
  return createProbe(
    checkSchema.parse({
      name: 'sip',
      type: 'sip-options',
      transport,
      host: '127.0.0.1',
      port,
      timeout: 1000,
      ...(transport === 'tls' && certs ? { caFile: certs.ca.cert, serverName: 'sip.lab.test' } : {}),
    }),
  );
}

function tlsOptions(leaf: 'valid' | 'untrusted' = 'valid') {
  if (!certs) throw new Error('expected test certificates');
  return { key: readFileSync(certs[leaf].key), cert: readFileSync(certs[leaf].chain) };
}

function needCerts(t: TestContext): boolean {
  return requireLab(t, !!certs, 'the openssl command is needed to make test certificates');
}

const branchOf = (raw: Buffer) => /branch=([^;\s]+)/.exec(raw.toString())?.[1];

describe('kept sockets', () => {
  test('udp: rounds share one socket (one local port) and each carries a fresh branch', async () => {
    const server = await startSipServer('udp', ok);
    try {
      const probe = sipProbe('udp', server.port);
      for (let i = 0; i < 5; i++) assert.equal((await probe()).status, 'up');
      assert.equal(new Set(server.requests.map((r) => r.remote.port)).size, 1, 'one local port');
      assert.equal(new Set(server.requests.map((r) => branchOf(r.raw))).size, 5, 'five branches');
    } finally {
      await server.close();
    }
  });

  test('udp: a late reply to an earlier round is not taken as this round’s', async () => {
    let previous: Parameters<Responder>[0] | undefined;
    // Answers each request with the reply to the one before: every round sees only a stale reply.
    const server = await startSipServer('udp', (request) => {
      const stale = previous;
      previous = request;
      return stale ? [replyTo(stale, 200, 'OK')] : [];
    });
    try {
      const probe = createProbe(
        checkSchema.parse({
          name: 's',
          type: 'sip-options',
          transport: 'udp',
          host: '127.0.0.1',
          port: server.port,
          timeout: 150,
        }),
      );
      await probe();
      const second = await probe();
      assert.equal(second.status, 'down', second.detail);
      assert.match(second.detail, /timeout .*ignored 1 unmatched reply/);
    } finally {
      await server.close();
    }
  });

  test('udp: a stopped server is refused at once, and a server back on the port is up again', async () => {
    const server = await startSipServer('udp', ok);
    const port = server.port;
    const probe = sipProbe('udp', port);
    assert.equal((await probe()).status, 'up');
    await server.close();
    const refused = await probe();
    assert.equal(refused.status, 'down');
    assert.equal(refused.evidence, 'refused', refused.detail);
    // The same port again (a restarted proxy): the refusal is not carried into the next round.
    const { createSocket } = await import('node:dgram');
    const again = createSocket('udp4');
    again.on('message', (datagram, rinfo) => {
      const text = datagram.toString();
      const header = (name: string) => new RegExp(`^${name}: (.*)$`, 'mi').exec(text)?.[1] ?? '';
      const reply = [
        'SIP/2.0 200 OK',
        `Via: ${header('Via')}`,
        `From: ${header('From')}`,
        `To: ${header('To')};tag=x`,
        `Call-ID: ${header('Call-ID')}`,
        `CSeq: ${header('CSeq')}`,
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
      again.send(reply, rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve) => again.bind(port, '127.0.0.1', resolve));
    try {
      const back = await probe();
      assert.equal(back.status, 'up', back.detail);
    } finally {
      again.close();
    }
  });

  for (const transport of ['tcp', 'tls'] as const) {
    test(`${transport}: ${transport === 'tcp' ? 'rounds reuse one connection' : 'every round is a new, verified connection'}`, async (t) => {
      if (transport === 'tls' && !needCerts(t)) return;
      const server = await startSipServer(transport, ok, transport === 'tls' ? tlsOptions() : undefined);
      try {
        const probe = sipProbe(transport, server.port);
        for (let i = 0; i < 5; i++) {
          const result = await probe();
          assert.equal(result.status, 'up', result.detail);
          if (transport === 'tls') assert.match(result.tlsVersion ?? '', /^TLSv1\.[23]$/);
        }
        assert.equal(server.connections(), transport === 'tcp' ? 1 : 5);
        assert.equal(new Set(server.requests.map((r) => branchOf(r.raw))).size, 5, 'five branches');
      } finally {
        await server.close();
      }
    });

    test(`${transport}: a server that closes each connection after answering never fails a round`, async (t) => {
      if (transport === 'tls' && !needCerts(t)) return;
      // The reply, then the connection closed: what an idle timeout looks like to the next round.
      const server = await startSipServer(
        transport,
        (request) => [replyTo(request, 200, 'OK')],
        transport === 'tls' ? tlsOptions() : undefined,
      );
      const serverWithClose = server as typeof server & { server: import('node:net').Server };
      serverWithClose.server.on(transport === 'tls' ? 'secureConnection' : 'connection', (socket) => {
        socket.on('data', () => setTimeout(() => socket.end(), 5));
      });
      try {
        const probe = sipProbe(transport, server.port);
        for (let i = 0; i < 6; i++) {
          const result = await probe();
          assert.equal(result.status, 'up', `round ${i}: ${result.detail}`);
          // Half of the rounds start right away, while the close may still be on its way.
          if (i % 2) await new Promise((resolve) => setTimeout(resolve, 30));
        }
      } finally {
        await server.close();
      }
    });

    test(`${transport}: a stopped server is refused on the round after, not taken for an idle close`, async (t) => {
      if (transport === 'tls' && !needCerts(t)) return;
      const server = await startSipServer(transport, ok, transport === 'tls' ? tlsOptions() : undefined);
      const probe = sipProbe(transport, server.port);
      assert.equal((await probe()).status, 'up');
      await server.close();
      const result = await probe();
      assert.equal(result.status, 'down');
      assert.equal(result.evidence, 'refused', result.detail);
    });
  }
});

describe('a certificate changed under a TLS check', () => {
  async function tlsServer() {
    const server = createTlsServer(tlsOptions('valid'), (socket: TLSSocket) => {
      socket.on('error', () => undefined);
      socket.resume();
    });
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    return { server, port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  }

  test('the tls check fails on the round right after the server starts serving an untrusted certificate', async (t) => {
    if (!needCerts(t)) return;
    const tls = await tlsServer();
    try {
      const probe = createProbe(
        checkSchema.parse({
          name: 'cert',
          type: 'tls',
          host: '127.0.0.1',
          port: tls.port,
          serverName: 'sip.lab.test',
          caFile: certs!.ca.cert,
          timeout: 1000,
        }),
      );
      for (let i = 0; i < 3; i++) assert.equal((await probe()).status, 'up');
      // What a bad certificate reload looks like: new clients get the other certificate.
      tls.server.setSecureContext(tlsOptions('untrusted'));
      const result = await probe();
      assert.equal(result.status, 'down');
      assert.match(result.detail, /certificate not trusted/);
    } finally {
      await tls.close();
    }
  });
});
