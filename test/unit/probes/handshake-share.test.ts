/**
 * One TLS handshake per endpoint per round (src/probes/handshake-share.ts): a `tls` check and a
 * SIP-over-TLS check of the same endpoint, started together as an agent's round starts them,
 * make one handshake that both judge; anything that differs (floor, CA, name) or a check alone
 * handshakes on its own; a share whose publisher ends first is withdrawn.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { checkSchema } from '../../../src/config/agent-schema.js';
import { createProbe } from '../../../src/probes/index.js';
import { runAttempt } from '../../../src/probes/attempt.js';
import { declarePublisher, publishHandshake, sharedHandshake } from '../../../src/probes/handshake-share.js';
import { tlsTarget } from '../../../src/probes/stream.js';
import { hasOpenssl, makeTestCerts, type TestCerts } from '../../support/certs.js';
import { replyTo, startStreamSipServer, type Responder } from './support/sip-test-server.js';
import { requireLab } from './support/requirements.js';

let certs: TestCerts | undefined;
before(async () => {
  if (hasOpenssl()) certs = await makeTestCerts();
});
after(async () => {
  await certs?.cleanup();
});

const ok: Responder = (request) => [replyTo(request, 200, 'OK')];

/** A SIP-over-TLS server serving `leaf`; counts the TCP connections it accepted (each one a handshake). */
async function withServer(
  t: TestContext,
  leaf: 'valid' | 'expired',
  body: (port: number, handshakes: () => number) => Promise<void>,
): Promise<void> {
  if (!requireLab(t, !!certs, 'the openssl command is needed to make test certificates')) return;
  const server = await startStreamSipServer(ok, {
    key: readFileSync(certs![leaf].key),
    cert: readFileSync(certs![leaf].chain),
  });
  // Counted at accept: the `tls` check closes once it has judged the server's handshake messages,
  // before the server sees the handshake finish.
  let accepted = 0;
  server.server.on('connection', () => void (accepted += 1));
  try {
    await body(server.port, () => accepted);
  } finally {
    await server.close();
  }
}

function sipTls(port: number, extra: Record<string, unknown> = {}) {
  return createProbe(
    checkSchema.parse({
      name: 'sip-tls',
      type: 'sip-options',
      transport: 'tls',
      host: '127.0.0.1',
      port,
      timeout: 2000,
      caFile: certs!.ca.cert,
      ...extra,
    }),
  );
}

function tls(port: number, extra: Record<string, unknown> = {}) {
  return createProbe(
    checkSchema.parse({
      name: 'tls',
      type: 'tls',
      host: '127.0.0.1',
      port,
      timeout: 2000,
      caFile: certs!.ca.cert,
      ...extra,
    }),
  );
}

describe('one TLS handshake per endpoint per round', () => {
  for (const order of ['tls first', 'sip-tls first'] as const)
    test(`a tls check and a SIP-over-TLS check started together make one handshake (${order})`, async (t) => {
      await withServer(t, 'valid', async (port, handshakes) => {
        const checkTls = tls(port);
        const checkSip = sipTls(port);
        const [tlsResult, sipResult] =
          order === 'tls first'
            ? await Promise.all([checkTls(), checkSip()])
            : await Promise.all([checkSip(), checkTls()]).then(([s, l]) => [l, s] as const);
        assert.equal(sipResult.status, 'up', sipResult.detail);
        assert.equal(tlsResult.status, 'up', tlsResult.detail);
        assert.equal(handshakes(), 1, 'one connection, one handshake, for both checks');
        // The tls check judged that handshake in full: protocol, chain, expiry of the served leaf.
        assert.equal(tlsResult.tlsVersion, 'TLSv1.3');
        assert.equal(tlsResult.answered, true);
        assert.equal(tlsResult.certNotAfterUnixSeconds, Math.floor(certs!.valid.notAfter.getTime() / 1000));
        assert.match(tlsResult.detail, /chain trusted, earliest expiry "sip\.lab\.test"/);
        // The next round handshakes again: nothing is kept from the last one.
        await Promise.all([checkTls(), checkSip()]);
        assert.equal(handshakes(), 2);
      });
    });

  test('a check alone handshakes itself', async (t) => {
    await withServer(t, 'valid', async (port, handshakes) => {
      const checkTls = tls(port);
      sipTls(port); // a publisher exists, but does not run in this round
      const result = await checkTls();
      assert.equal(result.status, 'up', result.detail);
      assert.equal(handshakes(), 1);
    });
  });

  test('checks that differ in their floor, CA or name do not share', async (t) => {
    await withServer(t, 'valid', async (port, handshakes) => {
      const checkSip = sipTls(port);
      const pairs = [
        tls(port, { minVersion: 'TLSv1.3' }),
        tls(port, { caFile: certs!.otherCa.cert }),
        tls(port, { serverName: 'other.lab.test' }),
      ];
      const results = await Promise.all([checkSip(), ...pairs.map((check) => check())]);
      assert.equal(handshakes(), 4, 'every check handshook on its own');
      assert.equal(results[0]!.status, 'up', results[0]!.detail);
      assert.equal(results[1]!.status, 'up', results[1]!.detail);
      // Each judged its own handshake by its own terms.
      assert.match(results[2]!.detail, /^certificate not trusted: /);
      assert.match(results[3]!.detail, /^certificate name mismatch: /);
    });
  });

  test('the floor said explicitly as the default shares with a check that leaves it unset', async (t) => {
    await withServer(t, 'valid', async (port, handshakes) => {
      const results = await Promise.all([sipTls(port)(), tls(port, { minVersion: 'TLSv1.2' })()]);
      assert.deepEqual(
        results.map((r) => r.status),
        ['up', 'up'],
      );
      assert.equal(handshakes(), 1);
    });
  });

  test('an expired certificate fails both checks from the one handshake', async (t) => {
    await withServer(t, 'expired', async (port, handshakes) => {
      // Created before the round, as an agent creates its checks.
      const checkTls = tls(port);
      const checkSip = sipTls(port);
      const [tlsResult, sipResult] = await Promise.all([checkTls(), checkSip()]);
      assert.equal(handshakes(), 1);
      assert.equal(tlsResult.status, 'down');
      assert.match(tlsResult.detail, /^certificate not trusted: certificate has expired/);
      assert.equal(sipResult.status, 'down');
      assert.match(sipResult.detail, /^certificate not trusted: certificate has expired/);
    });
  });

  test('a refused connect is the tls check’s evidence too', async (t) => {
    if (!requireLab(t, !!certs, 'the openssl command is needed to make test certificates')) return;
    // A port nothing listens on: a server's, once it is closed.
    const server = await startStreamSipServer(ok);
    const closedPort = server.port;
    await server.close();
    const checkTls = tls(closedPort);
    const checkSip = sipTls(closedPort);
    const [tlsResult, sipResult] = await Promise.all([checkTls(), checkSip()]);
    assert.equal(sipResult.status, 'down');
    assert.equal(tlsResult.status, 'down');
    assert.match(tlsResult.detail, /refused/i);
    // Hard evidence for the agent (fail at once), as if the tls check had connected itself.
    assert.equal(tlsResult.evidence, 'refused');
    assert.equal(tlsResult.detail, sipResult.detail);
  });

  test('a listener that never handshakes times both checks out, the tls check saying what it waited for', async (t) => {
    if (!requireLab(t, !!certs, 'the openssl command is needed to make test certificates')) return;
    const held = new Set<Socket>();
    const silent = createServer((socket) => void held.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentPort = (silent.address() as AddressInfo).port;
    try {
      // The tls check's deadline first: it never reaches a handshake of its own.
      const checkTls = tls(silentPort, { timeout: 250 });
      const checkSip = sipTls(silentPort, { timeout: 300 });
      const [tlsResult, sipResult] = await Promise.all([checkTls(), checkSip()]);
      assert.equal(held.size, 1, 'one connection for both checks');
      assert.match(sipResult.detail, /^timeout after 300 ms waiting for the TLS handshake/);
      assert.match(tlsResult.detail, /^timeout after 250 ms waiting for the TLS handshake/);
      assert.equal(tlsResult.evidence, undefined, 'a silent listener is no hard evidence');
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  test('a share whose publisher ends first is withdrawn', async () => {
    const target = {
      host: '127.0.0.1',
      port: 9,
      tls: tlsTarget({ serverName: 'withdrawn.test', ca: undefined }),
    };
    declarePublisher(target);
    let looked: Promise<unknown> | undefined;
    const published = runAttempt({ timeoutMs: 20 }, (attempt) => {
      publishHandshake(target, attempt); // never settled: the attempt's deadline ends it
      looked = sharedHandshake(target);
      return new Promise(() => undefined);
    });
    assert.match((await published).detail, /^timeout after 20 ms/);
    assert.equal(await looked, undefined, 'the tls check is told to handshake itself');
    assert.equal(await sharedHandshake(target), undefined, 'nothing stays published');
  });
});
