/**
 * The agent as a process, with the test playing ExaBGP on its stdin/stdout and a loopback TCP
 * listener standing in for the proxy (closing it = the proxy died). Real timers, real files,
 * real HTTP. The same behaviours run against real ExaBGP, BIRD and Kamailio in test/e2e/.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { FakeExabgp } from '../../support/fake-exabgp.js';
import type { AgentStatus } from '../../../src/wire/agent-status.js';

const P4 = '198.51.100.10/32';
const ANNOUNCE = /^announce route 198\.51\.100\.10\/32 next-hop self med 100 community \[ 65000:100 \]$/;
const GRACEFUL =
  /^announce route 198\.51\.100\.10\/32 next-hop self med 1000 community \[ 65000:100 65535:0 \] as-path \[ 65001 65001 65001 \]$/;
const WITHDRAW = /^withdraw route 198\.51\.100\.10\/32$/;
/**
 * How long a restart test waits for its condition: a deadline, not a delay — the test goes on as
 * soon as the condition holds. Generous because the machine running the suite may be loaded.
 */
const WAIT_MS = 30_000;

interface Proxy {
  port: number;
  close(): Promise<void>;
  reopen(): Promise<void>;
}

async function fakeProxy(): Promise<Proxy> {
  let server: Server;
  let port = 0;
  const open = () =>
    new Promise<void>((resolve) => {
      server = createServer((socket) => socket.destroy());
      server.listen(port, '127.0.0.1', () => {
        port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  await open();
  return {
    get port() {
      return port;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
    reopen: open,
  };
}

function agentConfig(dir: string, proxyPort: number, extra = ''): string {
  const file = join(dir, 'agent.yaml');
  writeFileSync(
    file,
    `node: test-a
site: test
prefixes: [${P4}]
bgp: { localAs: 65001, communities: ["65000:100"], drainPrepend: 2 }
checks:
  - { name: proxy, type: tcp, host: 127.0.0.1, port: ${proxyPort}, timeout: 1s }
interval: 300ms
fastInterval: 100ms
rise: 2
fall: 2
drainHold: 600ms
flapDamping: { enabled: false }
maintenanceFile: ${join(dir, 'maintenance')}
stateDir: ${join(dir, 'state')}
control: { host: 127.0.0.1, port: 0 }
exabgp: { ackTimeout: 500ms }
logLevel: debug
${extra}`,
  );
  return file;
}

describe('agent process (test plays ExaBGP)', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function start(extra = '', dir = mkdtempSync(join(tmpdir(), 'herald-agent-'))) {
    const proxy = await fakeProxy();
    const exabgp = new FakeExabgp(agentConfig(dir, proxy.port, extra));
    cleanups.push(
      () => exabgp.stop(),
      () => proxy.close().catch(() => {}),
      () => rmSync(dir, { recursive: true, force: true }),
    );
    return { dir, proxy, exabgp };
  }

  const status = async (exabgp: FakeExabgp) =>
    (await (await fetch(`${await exabgp.controlUrl()}/status`)).json()) as AgentStatus;

  test('withdraws first (reconcile), announces after rise good rounds, then stays quiet', async () => {
    const { exabgp } = await start();
    await exabgp.waitForCommand(ANNOUNCE);
    assert.match(exabgp.commands[0]!.line, WITHDRAW, 'the first command reconciles by withdrawing');
    const count = exabgp.commands.length;
    // Five more probe rounds later (counted, not timed): no re-announcement (no churn).
    const seen = new Set<number>();
    await exabgp.waitFor(
      async () => (seen.add((await status(exabgp)).checks[0]!.at).size > 5 ? true : undefined),
      30_000,
      'five more probe rounds',
    );
    assert.equal(
      exabgp.commands.length,
      count,
      `unexpected commands: ${exabgp.commands.slice(count).map((c) => c.line)}`,
    );
    const s = await status(exabgp);
    assert.equal(s.state, 'UP');
    assert.deepEqual([s.prefixes[0]!.desired, s.prefixes[0]!.acknowledged], ['announce', 'announce']);
  });

  test('the proxy dies: withdrawn within interval + (fall - 1) × fastInterval (+ slack); returns after rise', async () => {
    const { exabgp, proxy } = await start();
    const announced = await exabgp.waitForCommand(ANNOUNCE);
    const killedAt = Date.now();
    await proxy.close();
    const withdrawn = await exabgp.waitForCommand(WITHDRAW, 10_000, exabgp.commands.indexOf(announced));
    const took = withdrawn.at - killedAt;
    assert.ok(took <= 300 + 1 * 100 + 1000, `withdrawal took ${took} ms`);
    const s = await status(exabgp);
    assert.equal(s.state, 'DOWN');
    assert.equal(s.checks[0]!.status, 'down');
    await proxy.reopen();
    await exabgp.waitForCommand(ANNOUNCE, 10_000, exabgp.commands.indexOf(withdrawn));
  });

  test('a local drain announces GRACEFUL_SHUTDOWN for the hold, then withdraws; undrain returns after rise', async () => {
    const { exabgp } = await start();
    await exabgp.waitForCommand(ANNOUNCE);
    const url = await exabgp.controlUrl();
    const before = exabgp.commands.length;
    const response = await fetch(`${url}/drain`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'kernel upgrade' }),
    });
    assert.equal(response.status, 200);
    const graceful = await exabgp.waitForCommand(GRACEFUL, 5000, before);
    const withdrawn = await exabgp.waitForCommand(WITHDRAW, 5000, before);
    assert.ok(withdrawn.at - graceful.at >= 550, `graceful phase lasted ${withdrawn.at - graceful.at} ms`);
    const drained = await status(exabgp);
    assert.equal(drained.state, 'DRAINED');
    assert.deepEqual(
      drained.drains.map((d) => [d.id, d.reason]),
      [['local', 'kernel upgrade']],
    );
    const mark = exabgp.commands.length;
    assert.equal((await fetch(`${url}/undrain`, { method: 'POST' })).status, 200);
    await exabgp.waitForCommand(ANNOUNCE, 5000, mark);
  });

  test('a stored drain survives a restart: the new agent never announces', async () => {
    const first = await start();
    await first.exabgp.waitForCommand(ANNOUNCE);
    await fetch(`${await first.exabgp.controlUrl()}/drain`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'x', hold: 0 }),
    });
    await first.exabgp.waitForCommand(WITHDRAW, WAIT_MS, 2);
    await first.exabgp.stop();
    const second = new FakeExabgp(join(first.dir, 'agent.yaml'));
    cleanups.push(() => second.stop());
    await second.waitFor(
      async () => (await status(second)).checks[0]!.status === 'up' || undefined,
      WAIT_MS,
      'checks up',
    );
    await second.waitFor(
      async () => (await status(second)).state === 'DRAINED' || undefined,
      WAIT_MS,
      'DRAINED',
    );
    assert.ok(
      second.commands.every((c) => WITHDRAW.test(c.line)),
      second.commands.map((c) => c.line).join('\n'),
    );
  });

  test('a crashed agent respawned while the proxy is healthy keeps the route: no withdraw, no re-rise', async () => {
    const first = await start();
    await first.exabgp.waitForCommand(ANNOUNCE);
    await first.exabgp.stop(); // SIGKILL: ExaBGP would respawn the helper at once
    const second = new FakeExabgp(join(first.dir, 'agent.yaml'));
    cleanups.push(() => second.stop());
    await second.waitForCommand(ANNOUNCE, WAIT_MS);
    assert.ok(
      second.commands.every((c) => !WITHDRAW.test(c.line)),
      second.commands.map((c) => c.line).join('\n'),
    );
    assert.equal((await status(second)).state, 'UP');
  });

  test('a crashed agent respawned while the proxy is dead withdraws at once', async () => {
    const first = await start();
    await first.exabgp.waitForCommand(ANNOUNCE);
    await first.exabgp.stop();
    await first.proxy.close();
    const second = new FakeExabgp(join(first.dir, 'agent.yaml'));
    cleanups.push(() => second.stop());
    await second.waitForCommand(WITHDRAW, WAIT_MS);
    assert.ok(second.commands.every((c) => !ANNOUNCE.test(c.line)));
  });

  test('after a deliberate stop (SIGTERM) the next start is cold: withdraw first, announce after rise', async () => {
    const first = await start();
    await first.exabgp.waitForCommand(ANNOUNCE);
    first.exabgp.child.kill('SIGTERM');
    await first.exabgp.exited;
    const second = new FakeExabgp(join(first.dir, 'agent.yaml'));
    cleanups.push(() => second.stop());
    await second.waitForCommand(ANNOUNCE, WAIT_MS);
    assert.match(second.commands[0]!.line, WITHDRAW);
  });

  test('the maintenance file drains the node', async () => {
    const { exabgp, dir } = await start();
    await exabgp.waitForCommand(ANNOUNCE);
    writeFileSync(join(dir, 'maintenance'), 'swap disk\n');
    await exabgp.waitForCommand(GRACEFUL, 5000, 1);
    assert.match((await status(exabgp)).drains[0]!.reason, /swap disk/);
  });

  test('SIGTERM withdraws, waits for the ack, and exits 0', async () => {
    const { exabgp } = await start();
    const announced = await exabgp.waitForCommand(ANNOUNCE);
    exabgp.child.kill('SIGTERM');
    const { code } = await exabgp.exited;
    assert.equal(code, 0);
    assert.match(exabgp.commands.at(-1)!.line, WITHDRAW);
    assert.ok(exabgp.commands.indexOf(announced) < exabgp.commands.length - 1);
  });

  test('a neighbor coming up gets the current state re-sent; unanswered commands count as failures and are retried', async () => {
    const { exabgp } = await start();
    await exabgp.waitForCommand(ANNOUNCE);
    const mark = exabgp.commands.length;
    exabgp.send(
      JSON.stringify({
        exabgp: '4.0.1',
        time: 1,
        host: 'h',
        pid: 1,
        ppid: 1,
        counter: 2,
        type: 'state',
        neighbor: {
          address: { local: '192.0.2.1', peer: '192.0.2.2' },
          asn: { local: 65001, peer: 65000 },
          state: 'up',
        },
      }),
    );
    await exabgp.waitForCommand(ANNOUNCE, 5000, mark);
    const neighbors = (await status(exabgp)).neighbors;
    assert.deepEqual(
      neighbors.map((n) => [n.peer, n.state]),
      [['192.0.2.2', 'up']],
    );

    exabgp.ackMode = 'silent';
    const silentFrom = exabgp.commands.length;
    await fetch(`${await exabgp.controlUrl()}/drain`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'x', hold: 0 }),
    });
    await exabgp.waitFor(
      () =>
        exabgp.commands.slice(silentFrom).filter((c) => WITHDRAW.test(c.line)).length >= 2 ? true : undefined,
      10_000,
      'a retried withdraw',
    );
    exabgp.ackMode = 'done';
    await exabgp.waitFor(
      async () => ((await status(exabgp)).prefixes[0]!.acknowledged === 'withdraw' ? true : undefined),
      10_000,
      'acknowledged withdraw',
    );
    assert.ok((await status(exabgp)).exabgp.ackFailures >= 1);
    assert.match(
      await (await fetch(`${await exabgp.controlUrl()}/metrics`)).text(),
      /herald_exabgp_ack_failures_total [1-9]/,
    );
  });

  test('ExaBGP going away (stdin closed) ends the agent', async () => {
    const { exabgp } = await start();
    await exabgp.waitForCommand(ANNOUNCE);
    exabgp.child.stdin.end();
    const { code } = await exabgp.exited;
    assert.equal(code, 0);
  });

  test('a bad config exits 2, names every problem, and writes nothing to ExaBGP', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-agent-bad-'));
    const file = join(dir, 'agent.yaml');
    writeFileSync(
      file,
      'node: a\nsite: b\nprefixes: [198.51.100.10/33]\nbgp: {localAs: 65001}\nchecks: []\n',
    );
    const exabgp = new FakeExabgp(file);
    cleanups.push(
      () => exabgp.stop(),
      () => rmSync(dir, { recursive: true, force: true }),
    );
    const { code } = await exabgp.exited;
    assert.equal(code, 2);
    assert.equal(exabgp.commands.length, 0);
    assert.match(exabgp.stderr, /prefixes\.0: expected an IPv4 or IPv6 prefix/);
    assert.match(exabgp.stderr, /checks: expected at least 1 items/);
  });
});
