/**
 * The TLS listener check against real TLS servers on loopback, with certificates made by
 * openssl: trust, names, dates (expired, not yet valid, expiring soon, an intermediate that
 * expires first), the version floor, a stalled handshake, and the expected certificate file.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { connect as connectTls, createServer as createTlsServer, type TlsOptions } from 'node:tls';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { checkSchema } from '../../../src/config/agent-schema.js';
import { createProbe } from '../../../src/probes/index.js';
import { colonFingerprint, leafCertificateFromSession } from '../../../src/probes/tls-peer.js';
import { checkStatusSchema } from '../../../src/wire/agent-status.js';
import {
  daysFromNow,
  hasOpenssl,
  makeTestCerts,
  type LeafCert,
  type TestCerts,
} from '../../support/certs.js';
import { requireLab } from './support/requirements.js';

let sharedCerts: TestCerts | undefined;
before(async () => {
  if (hasOpenssl()) sharedCerts = await makeTestCerts();
});
after(async () => {
  await sharedCerts?.cleanup();
});

/** The test certificates, or undefined after skipping (or failing, under HERALD_REQUIRE_LAB=1) without openssl. */
function needCerts(t: TestContext): TestCerts | undefined {
  return requireLab(t, !!sharedCerts, 'the openssl command is needed to make test certificates')
    ? sharedCerts
    : undefined;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('expected a TCP listening address');
  return address.port;
}

/** Runs `body` against a TLS server serving `leaf` (with its chain); closes it afterwards. */
async function withTlsServer(
  leaf: LeafCert,
  body: (port: number) => Promise<void>,
  options: TlsOptions = {},
): Promise<void> {
  const sockets = new Set<Socket>();
  const server = createTlsServer(
    { key: readFileSync(leaf.key), cert: readFileSync(leaf.chain), ...options },
    (socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    },
  );
  server.on('tlsClientError', () => undefined);
  const port = await listen(server);
  try {
    await body(port);
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function tlsProbe(port: number, extra: Record<string, unknown> = {}) {
  return createProbe(
    checkSchema.parse({
      name: 'tls',
      type: 'tls',
      host: '127.0.0.1',
      port,
      caFile: sharedCerts?.ca.cert,
      ...extra,
    }),
  );
}

describe('the TLS check', () => {
  test('a valid certificate is up, reporting the protocol and the expiry', async (t) => {
    const certs = needCerts(t);
    if (!certs) return;
    await withTlsServer(certs.valid, async (port) => {
      const result = await tlsProbe(port)();
      assert.equal(result.status, 'up', result.detail);
      assert.equal(result.tlsVersion, 'TLSv1.3');
      assert.equal(result.answered, true);
      // The root CA lives ten years, so the leaf (one year) is the earliest expiry.
      assert.equal(result.certNotAfterUnixSeconds, Math.floor(certs.valid.notAfter.getTime() / 1000));
      // The real probe's value passes the wire schema that pins the unit (Unix seconds).
      assert.equal(
        checkStatusSchema.shape.certNotAfterUnixSeconds.safeParse(result.certNotAfterUnixSeconds).success,
        true,
      );
      assert.match(
        result.detail,
        /^TLSv1\.3, chain trusted, earliest expiry "sip\.lab\.test" expires in 36\d days/,
      );
    });
  });

  const failures = [
    [
      'an expired certificate',
      'expired',
      /^certificate not trusted: certificate has expired \(CERT_HAS_EXPIRED\)$/,
    ],
    ['a not yet valid certificate', 'notYetValid', /^certificate not trusted: certificate is not yet valid/],
    ['a certificate from another CA', 'untrusted', /^certificate not trusted: /],
    [
      'a certificate for another name',
      'wrongName',
      /^certificate name mismatch: .*IP: 127\.0\.0\.1 is not in the cert's list/,
    ],
  ] as const;
  for (const [what, leaf, detail] of failures) {
    test(`${what} is down with the reason`, async (t) => {
      const certs = needCerts(t);
      if (!certs) return;
      await withTlsServer(certs[leaf], async (port) => {
        const result = await tlsProbe(port)();
        assert.equal(result.status, 'down', result.detail);
        assert.match(result.detail, detail);
        assert.equal(result.answered, true);
      });
    });
  }

  test('the name checked is serverName when set, sent as SNI', async (t) => {
    const certs = needCerts(t);
    if (!certs) return;
    const seen: (string | false)[] = [];
    await withTlsServer(
      certs.wrongName,
      async (port) => {
        const result = await tlsProbe(port, { serverName: 'wrong.example.test' })();
        assert.equal(result.status, 'up', result.detail);
        assert.deepEqual(seen, ['wrong.example.test']);
      },
      { SNICallback: (name, callback) => (seen.push(name), callback(null, undefined)) },
    );
  });

  test('a certificate changed between rounds is judged on the very next round', async (t) => {
    const certs = needCerts(t);
    if (!certs) return;
    const sockets = new Set<Socket>();
    const server = createTlsServer(
      { key: readFileSync(certs.valid.key), cert: readFileSync(certs.valid.chain) },
      (socket) => {
        sockets.add(socket);
        socket.on('error', () => undefined);
        socket.on('close', () => sockets.delete(socket));
      },
    );
    server.on('tlsClientError', () => undefined);
    const port = await listen(server);
    try {
      const probe = tlsProbe(port, { serverName: 'sip.lab.test' });
      assert.equal((await probe()).status, 'up');
      assert.equal((await probe()).status, 'up'); // the leaf's facts are now remembered
      server.setSecureContext({
        key: readFileSync(certs.wrongName.key),
        cert: readFileSync(certs.wrongName.chain),
      });
      const misnamed = await probe();
      assert.equal(misnamed.status, 'down', misnamed.detail);
      assert.match(misnamed.detail, /name mismatch/);
      server.setSecureContext({
        key: readFileSync(certs.expired.key),
        cert: readFileSync(certs.expired.chain),
      });
      const expired = await probe();
      assert.equal(expired.status, 'down', expired.detail);
      assert.match(expired.detail, /expired/);
      server.setSecureContext({ key: readFileSync(certs.valid.key), cert: readFileSync(certs.valid.chain) });
      assert.equal((await probe()).status, 'up');
      // The same served leaf, checked for a name it does not carry: remembered per name.
      const otherName = await tlsProbe(port, { serverName: 'wrong.example.test' })();
      assert.equal(otherName.status, 'down', otherName.detail);
      assert.match(otherName.detail, /name mismatch/);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test('a handshake that never completes is a timeout', async () => {
    const sockets = new Set<Socket>();
    const silent = createTcpServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    const port = await listen(silent);
    try {
      const result = await tlsProbe(port, { timeout: 300 })();
      assert.equal(result.status, 'down');
      assert.equal(result.detail, 'timeout after 300 ms waiting for the TLS handshake');
      assert.equal(result.answered, false);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  test('a TLS 1.2-only server is up with the default floor and down below minVersion TLSv1.3', async (t) => {
    const certs = needCerts(t);
    if (!certs) return;
    await withTlsServer(
      certs.valid,
      async (port) => {
        const floor12 = await tlsProbe(port)();
        assert.equal(floor12.status, 'up', floor12.detail);
        assert.equal(floor12.tlsVersion, 'TLSv1.2');
        const floor13 = await tlsProbe(port, { minVersion: 'TLSv1.3' })();
        assert.equal(floor13.status, 'down');
        assert.match(floor13.detail, /^TLS handshake failed: .*protocol version.*\(minVersion TLSv1\.3\)$/);
      },
      { maxVersion: 'TLSv1.2' },
    );
  });

  test('a refused port is down and not answered', async () => {
    const server = createTcpServer();
    const port = await listen(server);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const result = await tlsProbe(port)();
    assert.equal(result.status, 'down');
    assert.equal(result.detail, 'connection refused');
    assert.equal(result.answered, false);
  });
});

describe('the TLS check: days left', () => {
  test('fewer than warnDays left warns; fewer than criticalDays says critical', async (t) => {
    const certs = needCerts(t);
    if (!certs) return;
    const soon = await certs.pki.issueLeaf('soon', { notAfter: daysFromNow(10.5) });
    const verySoon = await certs.pki.issueLeaf('very-soon', { notAfter: daysFromNow(3.5) });
    await withTlsServer(soon, async (port) => {
      const result = await tlsProbe(port)();
      assert.equal(result.status, 'warn', result.detail);
      assert.match(result.detail, /^TLSv1\.3: certificate "sip\.lab\.test" expires in 10 days/);
      assert.doesNotMatch(result.detail, /critical/);
      assert.equal((await tlsProbe(port, { warnDays: 10 })()).status, 'up');
    });
    await withTlsServer(verySoon, async (port) => {
      const result = await tlsProbe(port)();
      assert.equal(result.status, 'warn', result.detail);
      assert.match(result.detail, /critical: certificate "sip\.lab\.test" expires in 3 days/);
    });
  });

  test('an intermediate CA that expires before the leaf sets the earliest expiry', async (t) => {
    const certs = needCerts(t);
    if (!certs) return;
    const intermediate = await certs.pki.createCa('short-intermediate', {
      issuer: certs.ca,
      notAfter: daysFromNow(5.5),
    });
    const leaf = await certs.pki.issueLeaf('behind-intermediate', { issuer: intermediate });
    await withTlsServer(leaf, async (port) => {
      const result = await tlsProbe(port)();
      assert.equal(result.status, 'warn', result.detail);
      assert.match(result.detail, /critical: certificate "short-intermediate" expires in 5 days/);
      const intermediateExpiry = Date.now() / 1000 + 5.5 * 86_400;
      assert.ok(
        Math.abs((result.certNotAfterUnixSeconds ?? 0) - intermediateExpiry) < 120,
        String(result.certNotAfterUnixSeconds),
      );
    });
  });
});

describe('the TLS check: expected certificate file', () => {
  test('serving the expected certificate is up; another one warns', async (t) => {
    const certs = needCerts(t);
    if (!certs) return;
    const renewed = await certs.pki.issueLeaf('renewed');
    await withTlsServer(certs.valid, async (port) => {
      assert.equal((await tlsProbe(port, { expectedCertFile: certs.valid.cert })()).status, 'up');
      const stale = await tlsProbe(port, { expectedCertFile: renewed.cert })();
      assert.equal(stale.status, 'warn', stale.detail);
      assert.match(stale.detail, /served certificate differs from expectedCertFile/);
    });
  });

  test('an expectedCertFile that does not exist is down in every result, naming the file', async () => {
    const probe = tlsProbe(1, { caFile: undefined, expectedCertFile: '/nonexistent/served.pem' });
    for (let i = 0; i < 2; i++) {
      const result = await probe();
      assert.equal(result.status, 'down');
      assert.equal(result.detail, 'cannot read expectedCertFile /nonexistent/served.pem: no such file');
    }
  });

  test('a caFile that holds no certificate is down, naming the file', async (t) => {
    const certs = needCerts(t);
    if (!certs) return;
    const result = await tlsProbe(1, { caFile: certs.valid.key })();
    assert.equal(result.status, 'down');
    assert.equal(result.detail, `caFile ${certs.valid.key}: expected a PEM certificate, found none`);
  });
});

describe('the served leaf, read from the encoded TLS session', () => {
  for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const)
    test(`its SHA-256 is the certificate's fingerprint256 (${maxVersion})`, async (t) => {
      const certs = needCerts(t);
      if (!certs) return;
      await withTlsServer(certs.valid, async (port) => {
        const socket = connectTls({
          host: '127.0.0.1',
          port,
          ca: readFileSync(certs.ca.cert),
          servername: 'localhost',
          rejectUnauthorized: false,
          maxVersion,
        });
        try {
          await once(socket, 'secureConnect');
          const leaf = leafCertificateFromSession(socket.getSession()!);
          assert.ok(leaf, 'the session holds the peer certificate');
          assert.equal(
            colonFingerprint(createHash('sha256').update(leaf).digest('hex')),
            socket.getPeerCertificate(false).fingerprint256,
          );
        } finally {
          socket.destroy();
        }
      });
    });

  test('an encoding without a peer certificate, or not DER, gives no leaf', () => {
    assert.equal(leafCertificateFromSession(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01])), undefined);
    assert.equal(leafCertificateFromSession(Buffer.from('not a session')), undefined);
    assert.equal(leafCertificateFromSession(Buffer.from([0x30, 0x82, 0xff, 0xff, 0xa3])), undefined);
    assert.equal(leafCertificateFromSession(Buffer.alloc(0)), undefined);
  });
});
