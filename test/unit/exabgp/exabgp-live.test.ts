/**
 * The bridge against real ExaBGP 4.2 (no BGP peer: the neighbors point at a loopback port where
 * nothing listens, so no packet leaves the machine). ExaBGP acknowledges route commands with
 * `done` when they are queued in the Adj-RIB-Out, session or not.
 * (a) herald as ExaBGP's helper process, over stdin/stdout;
 * (b) herald outside ExaBGP, over its named pipes.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../../../src/util/log.js';
import type { RouteIntent } from '../../../src/exabgp/commands.js';
import { createPipeTransport } from '../../../src/exabgp/pipe-transport.js';
import { RouteWriter } from '../../../src/exabgp/route-writer.js';
import { exabgpTestEnv, labAvailable, missingForLab, startDaemon, waitFor, type Daemon } from './fixtures/lab-support.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const exampleEnv = join(repoRoot, 'exabgp/exabgp.env');
const helper = fileURLToPath(new URL('./fixtures/exabgp-helper.ts', import.meta.url));
// ExaBGP starts helpers in "/", so tsx is given by absolute URL.
const tsxLoader = import.meta.resolve('tsx');
const logger = createLogger('exabgp-live-test', 'silent');
const prefix = '198.51.100.10/32';

/** A loopback port where nothing listens (bound, then released). */
async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

function workDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), `herald-exabgp-${process.pid}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function neighborBlock(peer: string, port: number, processes: string): string {
  return `neighbor ${peer} {
    router-id 10.255.0.1;
    local-address 127.0.0.1;
    local-as 65001;
    peer-as 65000;
    hold-time 9;
    connect ${port};
    family { ipv4 unicast; ipv6 unicast; }
    api { ${processes} neighbor-changes; }
}
`;
}

function readReport(path: string): Map<string, Record<string, unknown>> {
  const steps = new Map<string, Record<string, unknown>>();
  if (!existsSync(path)) return steps;
  for (const line of readFileSync(path, 'utf8').split('\n').filter(Boolean)) {
    const entry = JSON.parse(line) as Record<string, unknown>;
    steps.set(String(entry.step), entry);
  }
  return steps;
}

function announceIntent(med: number): RouteIntent {
  return {
    prefix,
    action: 'announce',
    attributes: {
      nextHop: 'self',
      med,
      communities: ['65000:1', '65535:0'],
      largeCommunities: ['65000:1:2'],
      asPath: [65001, 65001, 65001],
    },
  };
}

test('process transport: real ExaBGP acks, an invalid route times out as a counted failure, then converges', { timeout: 90_000 }, async (t) => {
  if (!labAvailable(t, missingForLab({ commands: ['exabgp'] }))) return;
  const dir = workDir(t);
  const port = await unusedPort();
  const reportPath = join(dir, 'report.jsonl');
  const conf = join(dir, 'exabgp.conf');
  writeFileSync(
    conf,
    `process herald {
    run ${process.execPath} --import ${tsxLoader} ${helper} ${reportPath};
    encoder json;
}
${neighborBlock('127.0.0.2', port, 'processes [ herald ];')}
${neighborBlock('127.0.0.3', port, 'processes [ herald ];')}`,
  );
  const exabgp: Daemon = startDaemon('exabgp', ['--env', exampleEnv, conf], {
    cwd: repoRoot,
    env: exabgpTestEnv({ exabgp_api_cli: 'false' }),
  });
  t.after(() => exabgp.stop());
  const details = () => `report:\n${existsSync(reportPath) ? readFileSync(reportPath, 'utf8') : '(none)'}\nexabgp:\n${exabgp.output().slice(-4000)}`;

  await waitFor(
    () => {
      if (exabgp.exited()) throw new Error(`ExaBGP exited early\n${details()}`);
      return readReport(reportPath).get('finished');
    },
    60_000,
    'the helper to finish',
    details,
  );
  const steps = readReport(reportPath);
  const expectedFirst = announceIntent(100);
  const announced = steps.get('announced') as { ok: boolean; status: Array<{ acknowledged: unknown }>; ackFailures: number };
  assert.equal(announced.ok, true, details());
  assert.deepEqual(announced.status[0]?.acknowledged, expectedFirst);

  const timedOut = steps.get('invalid-timed-out') as { status: Array<{ acknowledged: unknown; lastError: string }>; ackFailures: number };
  assert.ok(timedOut.ackFailures > announced.ackFailures, `the silent command was counted\n${details()}`);
  assert.equal(timedOut.status[0]?.acknowledged, 'unknown');
  assert.match(timedOut.status[0]?.lastError ?? '', /^no answer from ExaBGP within 1500 ms to "neighbor 127\.0\.0\.2, neighbor 127\.0\.0\.3 announce route .* med 200/);
  assert.match(String(steps.get('corrupted')?.line), /community \[ 70000:1 65535:0 \]/);

  const retried = steps.get('retried') as { ok: boolean; status: Array<{ acknowledged: unknown; lastError: unknown }>; ackFailures: number };
  assert.equal(retried.ok, true, details());
  assert.deepEqual(retried.status[0]?.acknowledged, announceIntent(200));
  assert.equal(retried.status[0]?.lastError, null);

  const withdrawn = steps.get('withdrawn') as { ok: boolean; status: Array<{ acknowledged: unknown }> };
  assert.equal(withdrawn.ok, true, details());
  assert.deepEqual(withdrawn.status[0]?.acknowledged, { prefix, action: 'withdraw' });

  // ExaBGP's own log: the valid commands took effect for both selected neighbors; the invalid one failed.
  const log = await waitFor(
    () => (/route removed from/.test(exabgp.output()) ? exabgp.output() : undefined),
    5000,
    'the withdraw in the log',
    details,
  );
  assert.match(log, /route added to neighbor 127\.0\.0\.2 .*neighbor 127\.0\.0\.3 .*: 198\.51\.100\.10\/32 next-hop self .*med 200 community \[ 65000:1 65535:0 \] large-community 65000:1:2/);
  assert.match(log, /'L' format requires|problem with function/);
  assert.match(log, /route removed from neighbor 127\.0\.0\.2 .*: 198\.51\.100\.10\/32/);

  // The JSON state messages were parsed (nothing listens on the port, so the sessions never come up).
  const neighbors = (steps.get('finished')?.neighbors ?? []) as Array<{ peer: string; state: string }>;
  assert.ok(neighbors.some((n) => n.peer === '127.0.0.2' && ['connected', 'down'].includes(n.state)), JSON.stringify(neighbors));

  await exabgp.stop();
  assert.ok(readReport(reportPath).has('shutdown-notice'), `the helper saw ExaBGP's shutdown notice\n${details()}`);
});

test('pipe transport: real ExaBGP with named pipes acks announce and withdraw', { timeout: 60_000 }, async (t) => {
  if (!labAvailable(t, missingForLab({ commands: ['exabgp', 'mkfifo'] }))) return;
  const root = workDir(t);
  const port = await unusedPort();
  const pipename = `herald-test-${process.pid}`;
  mkdirSync(join(root, 'run'));
  for (const end of ['in', 'out'])
    assert.equal(spawnSync('mkfifo', ['-m', '600', join(root, 'run', `${pipename}.${end}`)]).status, 0);
  const conf = join(root, 'exabgp.conf');
  writeFileSync(conf, neighborBlock('127.0.0.2', port, ''));

  // Opened before ExaBGP starts: the first writes fail (nobody reads yet) and are retried.
  const transport = createPipeTransport({ dir: join(root, 'run'), pipename, logger });
  t.after(() => transport.close());
  const writer = new RouteWriter({ transport, ackTimeoutMs: 1500, retryBackoffMs: 100, maxRetryBackoffMs: 500, logger });
  t.after(() => writer.close());
  writer.setDesired([announceIntent(100)]);

  const exabgp = startDaemon('exabgp', ['--root', root, '--env', exampleEnv, conf], {
    cwd: root,
    env: exabgpTestEnv({ exabgp_api_cli: 'true', exabgp_api_pipename: pipename }),
  });
  t.after(() => exabgp.stop());
  const details = () => `lastError: ${writer.lastError}\nexabgp:\n${exabgp.output().slice(-4000)}`;

  assert.equal(await writer.whenConverged(30_000), true, details());
  assert.deepEqual(writer.status()[0]?.acknowledged, announceIntent(100));
  assert.match(exabgp.output(), new RegExp(`to send commands +${root}/run/${pipename}\\.in`), 'ExaBGP used our pipes');
  // ExaBGP's log arrives on another pipe than the ack: wait for it.
  await waitFor(
    () => /route added to neighbor 127\.0\.0\.2 .*: 198\.51\.100\.10\/32 next-hop self .*med 100/.test(exabgp.output()),
    5000,
    'the announce in the log',
    details,
  );

  writer.setDesired([{ prefix, action: 'withdraw' }]);
  assert.equal(await writer.whenConverged(10_000), true, details());
  assert.deepEqual(writer.status()[0]?.acknowledged, { prefix, action: 'withdraw' });
  await waitFor(() => /route removed from neighbor 127\.0\.0\.2 .*: 198\.51\.100\.10\/32/.test(exabgp.output()), 5000, 'the withdraw in the log', details);
});
