/**
 * The `turn` check against a REAL coturn (Debian's turnserver) on loopback, with TURN REST API
 * credentials from a shared secret in a file and TLS from test/support/certs.ts: an
 * authenticated Allocate succeeds over udp, tcp and tls and is freed (coturn's own CLI counts
 * no session left); a wrong secret is a named 401 loop; a steering relay (CLI `aas`) is a
 * warning naming the alternate; a frozen coturn times out and a killed one is refused.
 * Static credentials (username + passwordFile) work against a coturn with lt-cred-mech users.
 * Skips when turnserver or openssl is missing, unless HERALD_REQUIRE_LAB=1.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkSchema } from '../../../src/config/agent-schema.js';
import { createProbe } from '../../../src/probes/index.js';
import { runCoturnCli } from '../../../src/turn/coturn-cli.js';
import { hasOpenssl, makeTestCerts, type TestCerts } from '../../support/certs.js';
import { hasTurnserver, liveAllocation, startCoturn, type TestCoturn } from '../../support/coturn.js';
import { requireLab, waitFor } from './support/requirements.js';

let coturn: TestCoturn | undefined;
let certs: TestCerts | undefined;
let dir: string | undefined;
const ready = hasTurnserver() && hasOpenssl();

before(async () => {
  if (!ready) return;
  dir = mkdtempSync(join(tmpdir(), `herald-turn-test-${process.pid}-`));
  certs = await makeTestCerts({ dir: join(dir, 'certs'), dns: ['turn.lab.test'], ips: ['127.0.0.1'] });
  coturn = await startCoturn({ tls: { certFile: certs.valid.chain, keyFile: certs.valid.key } });
});

after(async () => {
  await coturn?.stop();
  await certs?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function turnCheck(transport: 'udp' | 'tcp' | 'tls', extra: Record<string, unknown> = {}) {
  const server = coturn!;
  return createProbe(
    checkSchema.parse({
      name: `turn-${transport}`,
      type: 'turn',
      transport,
      port: transport === 'tls' ? server.tlsPort : server.port,
      serverName: transport === 'tls' ? 'turn.lab.test' : undefined,
      caFile: transport === 'tls' ? certs!.ca.cert : undefined,
      credentials: { secretFile: server.secretFile },
      ...extra,
    }),
  );
}

test('a real authenticated Allocate over udp, tcp and tls succeeds and leaks no allocation', async (t) => {
  if (!requireLab(t, ready, 'turnserver (Debian coturn) and openssl are needed')) return;
  const server = coturn!;
  // The session count the leak check relies on does see a live allocation.
  const kept = await liveAllocation(server, 'keeper');
  assert.ok((await server.sessions()) >= 1, 'coturn `ps` shows no session for a live allocation');
  await kept.free();
  assert.ok(
    await waitFor(async () => (await server.sessions()) === 0, 5000, 100),
    'the raw allocation was not freed',
  );

  for (const transport of ['udp', 'tcp', 'tls'] as const) {
    for (let round = 0; round < 3; round++) {
      const result = await turnCheck(transport)();
      assert.equal(result.status, 'up', `${transport}: ${result.detail}`);
      assert.match(result.detail, /^relay 127\.0\.0\.1:\d+ allocated in \d+ ms and freed$/, transport);
      assert.equal(result.answered, true);
      assert.equal(
        result.target,
        `${transport}:127.0.0.1:${transport === 'tls' ? server.tlsPort : server.port}`,
      );
      if (transport === 'tls') assert.match(result.tlsVersion ?? '', /^TLSv1\.[23]$/);
    }
  }
  // Freed by the probes' Refresh (lifetime 0), not by waiting out coturn's 600 s lifetime.
  assert.ok(
    await waitFor(async () => (await server.sessions()) === 0, 5000, 100),
    `coturn still holds sessions after the probes: ${await server.sessions()}`,
  );
});

test('a wrong shared secret is a named 401 loop, and the secret never shows', async (t) => {
  if (!requireLab(t, ready, 'turnserver (Debian coturn) and openssl are needed')) return;
  const wrongFile = join(dir!, 'wrong-secret');
  const wrong = `not-${coturn!.secret}`;
  writeFileSync(wrongFile, `${wrong}\n`, { mode: 0o600 });
  for (const transport of ['udp', 'tls'] as const) {
    const result = await turnCheck(transport, { credentials: { secretFile: wrongFile } })();
    assert.equal(result.status, 'down', result.detail);
    assert.match(result.detail, /^401 loop: the relay refused the credentials for realm "turn\.lab\.test"/);
    assert.ok(!result.detail.includes(wrong) && !result.detail.includes(coturn!.secret));
  }
  const missing = await turnCheck('udp', { credentials: { secretFile: join(dir!, 'absent') } })();
  assert.equal(missing.status, 'down');
  assert.match(missing.detail, /^cannot read credentials\.secretFile .*absent: no such file$/);
});

test('a relay steering new allocations away (coturn CLI aas) warns with the alternate', async (t) => {
  if (!requireLab(t, ready, 'turnserver (Debian coturn) and openssl are needed')) return;
  const server = coturn!;
  const steer = await runCoturnCli(server.cli, ['aas 192.0.2.7:3478'], 2000);
  assert.ok(steer.ok, steer.ok ? '' : steer.error);
  try {
    const result = await turnCheck('udp')();
    assert.equal(result.status, 'warn', result.detail);
    assert.match(result.detail, /300 Try Alternate to 192\.0\.2\.7:3478/);
  } finally {
    const undo = await runCoturnCli(server.cli, ['das 192.0.2.7:3478'], 2000);
    assert.ok(undo.ok, undo.ok ? '' : undo.error);
  }
  assert.equal((await turnCheck('udp')()).status, 'up');
});

test('a frozen coturn times out naming the step; a killed one is refused', async (t) => {
  if (!requireLab(t, ready, 'turnserver (Debian coturn) and openssl are needed')) return;
  const server = coturn!;
  server.signal('SIGSTOP');
  try {
    assert.ok(await waitFor(() => server.stopped(), 5000), 'coturn did not stop on SIGSTOP');
    const result = await turnCheck('udp', { timeout: 400 })();
    assert.equal(result.status, 'down');
    assert.match(result.detail, /^timeout after 400 ms waiting for a reply to the first Allocate/);
    assert.equal(result.answered, false);
  } finally {
    server.signal('SIGCONT');
  }
  assert.equal((await turnCheck('udp')()).status, 'up', 'coturn did not answer again after SIGCONT');
  server.signal('SIGKILL');
  const refused = async (transport: 'udp' | 'tcp') => {
    const result = await turnCheck(transport, { timeout: 1000 })();
    return result.status === 'down' && /refused/.test(result.detail);
  };
  assert.ok(await waitFor(() => refused('tcp'), 5000, 50), 'tcp was not refused after SIGKILL');
  assert.ok(await waitFor(() => refused('udp'), 5000, 50), 'udp was not refused after SIGKILL');
});

test('static credentials (username + passwordFile) against a coturn with lt-cred-mech users', async (t) => {
  if (!requireLab(t, ready, 'turnserver (Debian coturn) and openssl are needed')) return;
  const fixed = await startCoturn({ staticUser: { name: 'probe', password: 'static-pw' } });
  try {
    const passwordFile = join(dir!, 'static-password');
    writeFileSync(passwordFile, 'static-pw\n', { mode: 0o600 });
    const check = (file: string) =>
      createProbe(
        checkSchema.parse({
          name: 'turn-static',
          type: 'turn',
          transport: 'tcp',
          port: fixed.port,
          credentials: { username: 'probe', passwordFile: file },
        }),
      )();
    const ok = await check(passwordFile);
    assert.equal(ok.status, 'up', ok.detail);
    const wrongFile = join(dir!, 'static-wrong');
    writeFileSync(wrongFile, 'nope\n', { mode: 0o600 });
    const wrong = await check(wrongFile);
    assert.equal(wrong.status, 'down');
    assert.match(wrong.detail, /^401 loop/);
  } finally {
    await fixed.stop();
  }
});
