/**
 * The probes against a REAL Kamailio on loopback (the recipe of /work/shared/notes/lab.md),
 * with its TLS certificate from test/support/certs.ts: OPTIONS over udp/tcp/tls and the TLS
 * check are up; a SIGSTOPped Kamailio is down by timeout; a killed one is down as refused.
 * Skips when kamailio (or its tls module, or openssl) is missing, unless HERALD_REQUIRE_LAB=1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkSchema } from '../../../src/config/agent-schema.js';
import { createProbe } from '../../../src/probes/index.js';
import type { ProbeResult } from '../../../src/probes/types.js';
import { hasOpenssl, makeTestCerts, type TestCerts } from '../../support/certs.js';
import { commandExists, requireLab, waitFor } from './support/requirements.js';

const MODULES = '/usr/lib/x86_64-linux-gnu/kamailio/modules';

async function isFree(port: number): Promise<boolean> {
  const tcpFree = (p: number) =>
    new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(p, '127.0.0.1', () => server.close(() => resolve(true)));
    });
  const udpFree = new Promise<boolean>((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => resolve(false));
    socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
  });
  return (await tcpFree(port)) && (await tcpFree(port + 1)) && (await udpFree);
}

/** Two adjacent free ports (SIP udp+tcp, then TLS), starting at a pid-derived place below the ephemeral range. */
async function freePortPair(): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const port = 21_000 + ((process.pid * 2 + i * 2) % 10_000);
    if (await isFree(port)) return port;
  }
  throw new Error('expected a free pair of ports between 21000 and 31000, found none');
}

/** `expiredPort`: a second TLS listener, serving the expired leaf (its own server profile). */
/** A TCP port the kernel just handed out (bound to port 0, then released). */
async function freeTcpPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A TCP forwarder to 127.0.0.1:`to` that counts the connections it accepted (TLS bytes pass untouched). */
async function countingForwarder(
  to: number,
): Promise<{ port: number; connections(): number; close(): Promise<void> }> {
  let connections = 0;
  const forwarder = createServer((client) => {
    connections += 1;
    const upstream = connect(to, '127.0.0.1');
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => forwarder.listen(0, '127.0.0.1', resolve));
  return {
    port: (forwarder.address() as AddressInfo).port,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => forwarder.close(() => resolve())),
  };
}

function kamailioConfig(dir: string, port: number, certs: TestCerts, expiredPort: number): string {
  const profile = (name: string, leaf: TestCerts['valid']) => [
    `[server:${name}]`,
    'method = TLSv1.2+',
    'verify_certificate = no',
    'require_certificate = no',
    `private_key = ${leaf.key}`,
    `certificate = ${leaf.chain}`,
    '',
  ];
  writeFileSync(
    join(dir, 'tls.cfg'),
    [...profile('default', certs.valid), ...profile(`127.0.0.1:${expiredPort}`, certs.expired)].join('\n'),
  );
  const config = join(dir, 'kamailio.cfg');
  writeFileSync(
    config,
    [
      '#!KAMAILIO',
      'debug=2',
      'log_stderror=yes',
      'children=1',
      'tcp_children=1',
      'auto_aliases=no',
      'enable_tls=yes',
      `listen=udp:127.0.0.1:${port}`,
      `listen=tcp:127.0.0.1:${port}`,
      `listen=tls:127.0.0.1:${port + 1}`,
      `listen=tls:127.0.0.1:${expiredPort}`,
      `mpath="${MODULES}/"`,
      'loadmodule "tls.so"',
      'loadmodule "sl.so"',
      `modparam("tls", "config", "${join(dir, 'tls.cfg')}")`,
      'request_route {',
      '    if (method == "OPTIONS") { sl_send_reply("200", "OK"); exit; }',
      '    if (method != "ACK") sl_send_reply("501", "Not Implemented");',
      '    exit;',
      '}',
      '',
    ].join('\n'),
  );
  return config;
}

/** Signals Kamailio's whole process group (it forks workers); a group already gone is fine. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // ESRCH: nothing left to signal.
  }
}

test('probes against a real Kamailio: up, frozen, killed', async (t) => {
  const available =
    commandExists('kamailio', ['-v']) &&
    existsSync(join(MODULES, 'tls.so')) &&
    existsSync(join(MODULES, 'sl.so'));
  if (
    !requireLab(
      t,
      available,
      'kamailio with its tls module is not installed (Debian: kamailio kamailio-tls-modules)',
    )
  )
    return;
  if (!requireLab(t, hasOpenssl(), 'the openssl command is needed to make test certificates')) return;

  const dir = mkdtempSync(join(tmpdir(), `herald-kamailio-${process.pid}-`));
  const certs = await makeTestCerts({
    dir: join(dir, 'certs'),
    dns: ['sip.lab.test'],
    ips: ['127.0.0.1'],
  }).catch(async (error: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  });
  const port = await freePortPair();
  const expiredPort = await freeTcpPort();
  const config = kamailioConfig(dir, port, certs, expiredPort);
  const kamailio = spawn(
    'kamailio',
    ['-f', config, '-DD', '-E', '-m', '32', '-M', '4', '-Y', dir, '-P', join(dir, 'kamailio.pid'), '-w', dir],
    { detached: true, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  kamailio.stderr?.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-8000)));
  kamailio.on('error', () => undefined);
  const killOnExit = () => signalGroup(kamailio, 'SIGKILL');
  process.once('exit', killOnExit);

  const probe = (transport: 'udp' | 'tcp' | 'tls', timeout = 1000) =>
    createProbe(
      checkSchema.parse({
        name: `kamailio-${transport}`,
        type: 'sip-options',
        transport,
        port: transport === 'tls' ? port + 1 : port,
        serverName: 'sip.lab.test',
        caFile: transport === 'tls' ? certs.ca.cert : undefined,
        timeout,
      }),
    );
  const tlsCheck = createProbe(
    checkSchema.parse({
      name: 'kamailio-cert',
      type: 'tls',
      port: port + 1,
      serverName: 'sip.lab.test',
      caFile: certs.ca.cert,
      expectedCertFile: certs.valid.cert,
      timeout: 1000,
    }),
  );
  const allUp = async () =>
    (await Promise.all([probe('udp')(), probe('tcp')(), probe('tls')()])).every((r) => r.status === 'up');

  try {
    const started = await waitFor(allUp, 15_000, 50);
    assert.ok(started, `Kamailio did not answer OPTIONS on udp/tcp/tls within 15 s; its log:\n${log}`);

    await t.test('OPTIONS over udp, tcp and tls and the TLS check are up', async () => {
      for (const transport of ['udp', 'tcp', 'tls'] as const) {
        const result = await probe(transport)();
        assert.equal(result.status, 'up', `${transport}: ${result.detail}`);
        assert.equal(result.sipCode, 200);
      }
      const cert = await tlsCheck();
      assert.equal(cert.status, 'up', cert.detail);
      assert.match(cert.tlsVersion ?? '', /^TLSv1\.[23]$/);
      assert.equal(cert.certNotAfterUnixSeconds, Math.floor(certs.valid.notAfter.getTime() / 1000));
    });

    /** A SIP-over-TLS check and a TLS check of one endpoint, created before their round as an agent does. */
    const pairOn = (viaPort: number) => {
      const check = (extra: Record<string, unknown>) =>
        createProbe(
          checkSchema.parse({
            name: 'shared',
            host: '127.0.0.1',
            port: viaPort,
            serverName: 'sip.lab.test',
            caFile: certs.ca.cert,
            timeout: 1000,
            ...extra,
          }),
        );
      return {
        sip: check({ type: 'sip-options', transport: 'tls' }),
        cert: check({ type: 'tls', expectedCertFile: certs.valid.cert }),
      };
    };

    await t.test('OPTIONS over tls and the TLS check started together make one handshake', async () => {
      const forwarder = await countingForwarder(port + 1);
      try {
        const { sip, cert } = pairOn(forwarder.port);
        const [sipResult, certResult] = await Promise.all([sip(), cert()]);
        assert.equal(sipResult.status, 'up', sipResult.detail);
        assert.equal(sipResult.sipCode, 200);
        assert.equal(certResult.status, 'up', certResult.detail);
        assert.equal(certResult.certNotAfterUnixSeconds, Math.floor(certs.valid.notAfter.getTime() / 1000));
        assert.equal(forwarder.connections(), 1, 'one connection and handshake served both checks');
      } finally {
        await forwarder.close();
      }
    });

    await t.test('a served certificate that expired fails both checks from their one handshake', async () => {
      const forwarder = await countingForwarder(expiredPort);
      try {
        const { sip, cert } = pairOn(forwarder.port);
        const [sipResult, certResult] = await Promise.all([sip(), cert()]);
        assert.equal(forwarder.connections(), 1);
        assert.equal(sipResult.status, 'down');
        assert.match(sipResult.detail, /^certificate not trusted: certificate has expired/);
        assert.equal(certResult.status, 'down');
        assert.match(certResult.detail, /^certificate not trusted: certificate has expired/);
        assert.equal(certResult.certNotAfterUnixSeconds, Math.floor(certs.expired.notAfter.getTime() / 1000));
      } finally {
        await forwarder.close();
      }
    });

    await t.test('a SIGSTOPped Kamailio is down by timeout on every transport', async () => {
      signalGroup(kamailio, 'SIGSTOP');
      try {
        const results: [string, ProbeResult][] = await Promise.all(
          (['udp', 'tcp', 'tls'] as const).map(
            async (transport) => [transport, await probe(transport, 400)()] as [string, ProbeResult],
          ),
        );
        for (const [transport, result] of results) {
          assert.equal(result.status, 'down', `${transport}: ${result.detail}`);
          assert.match(result.detail, /^timeout after 400 ms /, transport);
          assert.equal(result.answered, false, transport);
          assert.equal(result.evidence, undefined, `${transport}: a frozen proxy gives no hard evidence`);
        }
        assert.match(results[2]![1].detail, /waiting for the TLS handshake/);
      } finally {
        signalGroup(kamailio, 'SIGCONT');
      }
      assert.ok(await waitFor(allUp, 5000, 50), 'Kamailio did not answer again after SIGCONT');
    });

    await t.test('a killed Kamailio is down as refused (hard evidence) on every transport', async () => {
      signalGroup(kamailio, 'SIGKILL');
      let last: ProbeResult[] = [];
      const refused = await waitFor(
        async () => {
          last = await Promise.all([probe('udp', 300)(), probe('tcp', 300)(), probe('tls', 300)()]);
          return last.every((r) => r.detail === 'connection refused');
        },
        5000,
        50,
      );
      assert.ok(refused, `expected refused on every transport, got ${last.map((r) => r.detail).join(' | ')}`);
      for (const result of last) {
        assert.equal(result.status, 'down');
        assert.equal(result.answered, false);
        assert.equal(result.evidence, 'refused', `${result.target}: a dead proxy is hard evidence`);
      }
    });
  } finally {
    signalGroup(kamailio, 'SIGCONT');
    signalGroup(kamailio, 'SIGKILL');
    process.removeListener('exit', killOnExit);
    if (kamailio.exitCode === null && kamailio.signalCode === null)
      await new Promise((resolve) => kamailio.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  }
});
