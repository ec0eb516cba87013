/**
 * TLS session resumption in the `tls` and `sip-tls` checks (tls-session-cache.ts): the cache's
 * rules with a fake clock, then real TLS servers on loopback. Every round still connects and
 * handshakes; rounds between full handshakes resume; a server that declines the ticket (new
 * ticket keys, as Kamailio's tls.reload and restart give) gets a full handshake on that very
 * round, so a swapped certificate is judged at once; a failed round forgets the session;
 * fullHandshakeEvery 0 never resumes.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Server, TLSSocket } from 'node:tls';
import { checkSchema } from '../../../src/config/agent-schema.js';
import { createProbe } from '../../../src/probes/index.js';
import type { TlsPeerReport } from '../../../src/probes/tls-peer.js';
import { TlsSessionCache } from '../../../src/probes/tls-session-cache.js';
import type { Probe } from '../../../src/probes/types.js';
import { hasOpenssl, makeTestCerts, type LeafCert, type TestCerts } from '../../support/certs.js';
import { replyTo, startStreamSipServer } from './support/sip-test-server.js';
import { requireLab } from './support/requirements.js';

const goodReport: TlsPeerReport = {
  protocol: 'TLSv1.3',
  chainError: undefined,
  identityError: undefined,
  earliestExpiry: undefined,
  leafFingerprint256: undefined,
};
const badReport: TlsPeerReport = { ...goodReport, chainError: 'certificate has expired (CERT_HAS_EXPIRED)' };
const socketThat = (reused: boolean) => ({ isSessionReused: () => reused }) as unknown as TLSSocket;

describe('TlsSessionCache', () => {
  test('offers a ticket only after a verified full handshake, until fullEveryMs has passed', () => {
    let now = 0;
    const cache = new TlsSessionCache(60_000, () => now);
    cache.keep(Buffer.from('before any handshake'));
    assert.equal(cache.offer(), undefined, 'nothing verified yet');
    let inspected = 0;
    const inspect = () => (inspected++, goodReport);
    assert.equal(cache.settle(socketThat(false), inspect, undefined), goodReport);
    const t1 = Buffer.from('t1');
    cache.keep(t1);
    assert.equal(cache.offer()?.toString(), 't1');
    now = 59_999;
    assert.equal(cache.settle(socketThat(true), inspect, t1), goodReport);
    assert.equal(inspected, 1, 'a resumed handshake reuses the verified report');
    now = 60_000;
    assert.equal(cache.offer(), undefined, 'a full handshake is due');
  });

  test('a declined ticket (a full handshake) drops it and re-inspects; a failed verification is never resumed', () => {
    const cache = new TlsSessionCache(60_000, () => 0);
    cache.settle(socketThat(false), () => goodReport, undefined);
    const t1 = Buffer.from('t1');
    cache.keep(t1);
    assert.equal(
      cache.settle(socketThat(false), () => badReport, t1),
      badReport,
    );
    assert.equal(cache.holdsSession, false);
    cache.keep(Buffer.from('t2'));
    assert.equal(cache.offer(), undefined, 'a ticket from an unverified handshake is not kept');
  });

  test('forget() and fullEveryMs 0 mean a full handshake next', () => {
    const cache = new TlsSessionCache(60_000, () => 0);
    cache.settle(socketThat(false), () => goodReport, undefined);
    cache.keep(Buffer.from('t1'));
    cache.forget();
    assert.equal(cache.offer(), undefined);
    const never = new TlsSessionCache(0, () => 0);
    assert.equal(never.enabled, false);
    never.settle(socketThat(false), () => goodReport, undefined);
    never.keep(Buffer.from('t1'));
    assert.equal(never.offer(), undefined);
  });
});

let certs: TestCerts | undefined;
before(async () => {
  if (hasOpenssl()) certs = await makeTestCerts();
});
after(async () => {
  await certs?.cleanup();
});

function needCerts(t: TestContext): TestCerts | undefined {
  return requireLab(t, !!certs, 'the openssl command is needed to make test certificates')
    ? certs
    : undefined;
}

const serving = (leaf: LeafCert) => ({ key: readFileSync(leaf.key), cert: readFileSync(leaf.chain) });

/** Counts full and resumed handshakes a TLS server completed. */
function countHandshakes(server: Server) {
  const seen = { full: 0, resumed: 0 };
  server.on('secureConnection', (socket: TLSSocket) => {
    if (socket.isSessionReused()) seen.resumed += 1;
    else seen.full += 1;
  });
  return seen;
}

/** Runs rounds until `done` (the ticket of a full handshake can arrive just after its round). */
async function roundsUntil(probe: Probe, done: () => boolean, what: string): Promise<void> {
  for (let round = 0; round < 50 && !done(); round += 1) {
    const result = await probe();
    assert.equal(result.status, 'up', result.detail);
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.ok(done(), `expected ${what} within 50 rounds`);
}

const checks = {
  tls: (port: number, extra: Record<string, unknown>) =>
    checkSchema.parse({
      name: 'tls',
      type: 'tls',
      host: '127.0.0.1',
      port,
      caFile: certs?.ca.cert,
      ...extra,
    }),
  'sip-tls': (port: number, extra: Record<string, unknown>) =>
    checkSchema.parse({
      name: 'sip-tls',
      type: 'sip-options',
      transport: 'tls',
      host: '127.0.0.1',
      port,
      caFile: certs?.ca.cert,
      ...extra,
    }),
};

for (const [kind, check] of Object.entries(checks)) {
  describe(`the ${kind} check resumes TLS sessions`, () => {
    async function withServer(
      body: (server: Server, seen: { full: number; resumed: number }, port: number) => Promise<void>,
    ) {
      const sip = await startStreamSipServer(
        (request) => [replyTo(request, 200, 'OK')],
        serving(certs!.valid),
      );
      const server = sip.server as Server;
      const seen = countHandshakes(server);
      try {
        await body(server, seen, sip.port);
      } finally {
        await sip.close();
      }
    }

    test('rounds between full handshakes resume; a certificate swap with new ticket keys fails the very next round', async (t) => {
      if (!needCerts(t)) return;
      await withServer(async (server, seen, port) => {
        const probe = createProbe(check(port, { fullHandshakeEvery: '1m' }));
        await roundsUntil(probe, () => seen.resumed >= 3, 'resumed handshakes');
        const fullBefore = seen.full;
        // What Kamailio's tls.reload does: the new certificate, and new ticket keys.
        server.setSecureContext(serving(certs!.expired));
        server.setTicketKeys(randomBytes(48));
        const result = await probe();
        // A resumed round would have kept the verified report (up): down means it saw the swap.
        assert.equal(result.status, 'down', 'the expired certificate is judged on the next round');
        assert.match(result.detail, /expired/);
        assert.ok(seen.full >= fullBefore, 'counted');
      });
    });

    test('after a failed round the next is a full handshake', async (t) => {
      if (!needCerts(t)) return;
      await withServer(async (server, seen, port) => {
        const probe = createProbe(check(port, { fullHandshakeEvery: '1m' }));
        await roundsUntil(probe, () => seen.resumed >= 1, 'a resumed handshake');
        // The same ticket keys: a resumed round would still be up with the old report.
        const keys = server.getTicketKeys();
        server.setSecureContext(serving(certs!.expired));
        server.setTicketKeys(keys);
        // A round that fails (here: aborted before it starts) forgets the session.
        const aborted = new AbortController();
        aborted.abort();
        assert.equal((await probe({ signal: aborted.signal })).status, 'down');
        assert.match((await probe()).detail, /expired/, 'a full handshake saw the served certificate');
      });
    });

    for (const [what, extra] of [
      ['fullHandshakeEvery 0', { fullHandshakeEvery: 0 }],
      ['by default it', {}],
    ] as const)
      test(`${what} never resumes`, async (t) => {
        if (!needCerts(t)) return;
        await withServer(async (_server, seen, port) => {
          const probe = createProbe(check(port, extra));
          for (let round = 0; round < 5; round += 1) {
            const result = await probe();
            assert.equal(result.status, 'up');
            assert.equal(result.tlsSessionResumed, undefined);
          }
          assert.equal(seen.resumed, 0, 'the server never resumed a session');
        });
      });

    test('a server that keeps its ticket keys across a certificate swap is only seen at the next full handshake (the trade-off)', async (t) => {
      if (!needCerts(t)) return;
      await withServer(async (server, seen, port) => {
        const probe = createProbe(check(port, { fullHandshakeEvery: '1m' }));
        await roundsUntil(probe, () => seen.resumed >= 1, 'a resumed handshake');
        const keys = server.getTicketKeys();
        server.setSecureContext(serving(certs!.expired));
        server.setTicketKeys(keys);
        const resumed = await probe();
        assert.equal(resumed.status, 'up', 'a resumed round keeps the verified report');
        assert.equal(resumed.tlsSessionResumed, true, 'and says it resumed');
        const every = createProbe(check(port, { fullHandshakeEvery: 0 }));
        assert.match((await every()).detail, /expired/, 'a full handshake sees the swap');
      });
    });
  });
}
