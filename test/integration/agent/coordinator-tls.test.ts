/**
 * Agents presenting a TLS client certificate to a coordinator that requires one (listen.tls
 * with clientCa). A real coordinator in this process (startCoordinator: HTTPS server, guard,
 * store) with a throwaway PKI made by openssl: a CA for the coordinator's certificate, a CA for
 * the agents' certificates, and another CA nobody trusts.
 *
 * - the coordinator link (coordinator-link.ts, over http-client.ts) with the files read as the
 *   agent reads them: with the right certificate its reports arrive and a drain comes down the
 *   stream; without one, or with one from the other CA, it is refused, logs a clear error,
 *   keeps retrying and delivers nothing (no empty desired state that would drop drains);
 * - the `herald agent` process (the test plays ExaBGP): with its certificate it follows a
 *   coordinator drain; restarted without one it is refused, says so, and keeps the drain it had;
 *   a certificate file that is missing stops it at start-up with exit 2, nothing written.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { readCoordinatorCredentials } from '../../../src/agent/coordinator-credentials.js';
import { createCoordinatorLink, type CoordinatorLink } from '../../../src/agent/coordinator-link.js';
import { coordinatorConfigSchema } from '../../../src/coordinator/config-schema.js';
import { startCoordinator, type RunningCoordinator } from '../../../src/coordinator/run-coordinator.js';
import { SqliteStore } from '../../../src/coordinator/store/sqlite-store.js';
import type { AgentDesired, AgentStatus } from '../../../src/wire/agent-status.js';
import { requestJson } from '../../../src/wire/http-client.js';
import { opensslSkip, TestPki, type CertFiles } from '../../support/certs.js';
import { issueClientCert } from '../../support/client-certs.js';
import { FakeExabgp } from '../../support/fake-exabgp.js';
import { PREFIX, tempDir, TOKENS, waitFor } from '../coordinator/harness.js';

const ANNOUNCE = /^announce route 198\.51\.100\.10\/32 next-hop self med 100$/;
const GRACEFUL = /^announce route 198\.51\.100\.10\/32 .*65535:0/;
const WITHDRAW = /^withdraw route 198\.51\.100\.10\/32$/;

const sites = ['lon1', 'fra1', 'nyc1'].map((name) => ({
  name,
  region: name === 'nyc1' ? 'us' : 'eu',
  location: { lat: 0, lon: 0 },
  nodes: [`${name}-a`],
}));

/** Log lines written by a pino logger, parsed. */
class LogSink extends Writable {
  readonly lines: { level: number; msg: string }[] = [];
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    for (const line of chunk.toString('utf8').split('\n').filter(Boolean))
      this.lines.push(JSON.parse(line) as { level: number; msg: string });
    done();
  }
  errors(): string[] {
    return this.lines.filter((l) => l.level >= 50).map((l) => l.msg);
  }
}

function report(node: string): AgentStatus {
  const now = Date.now();
  return {
    node,
    site: node.slice(0, 4),
    version: 'test',
    startedAt: now - 1000,
    reportedAt: now,
    state: 'UP',
    healthy: true,
    holdDown: { active: false, remainingMs: 0, penalty: 0, flaps: 0 },
    prefixes: [
      {
        prefix: PREFIX,
        state: 'UP',
        desired: 'announce',
        acknowledged: 'announce',
        acknowledgedAt: now,
        drainedBy: [],
      },
    ],
    checks: [],
    drains: [],
    neighbors: [],
    exabgp: { ackFailures: 0, lastError: null },
  };
}

describe('agents with TLS client certificates', { skip: opensslSkip() }, () => {
  const tmp = tempDir('herald-agent-mtls-');
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  let pki: TestPki;
  let running: RunningCoordinator;
  let url: string;
  let certs: { lon1: CertFiles; fra1: CertFiles; rogue: CertFiles };

  /** An operator request, trusting the coordinator's CA (operators need no client certificate). */
  const operator = (method: string, path: string, body?: unknown) =>
    requestJson({ baseUrl: url, token: TOKENS.alice, ca: readFileSync(pki.ca.cert) }, method, path, body);

  async function drain(node: string, reason: string): Promise<string> {
    const answer = await operator('POST', '/api/v1/drains', { site: node.slice(0, 4), node, reason });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    return (answer.body as { drain: { id: string } }).drain.id;
  }

  before(async () => {
    pki = await TestPki.create(join(tmp.dir, 'pki'));
    const agentsCa = await pki.createCa('agents-ca');
    const otherCa = await pki.createCa('other-ca');
    const leaf = await pki.issueLeaf('coordinator', { ips: ['127.0.0.1'], dns: ['localhost'] });
    certs = {
      lon1: await issueClientCert(pki, agentsCa, 'lon1-a'),
      fra1: await issueClientCert(pki, agentsCa, 'fra1-a'),
      rogue: await issueClientCert(pki, otherCa, 'lon1-a', 'lon1-a-rogue'),
    };
    running = await startCoordinator(
      coordinatorConfigSchema.parse({
        listen: {
          host: '127.0.0.1',
          port: 0,
          tls: { certFile: leaf.chain, keyFile: leaf.key, clientCa: agentsCa.cert },
        },
        dataDir: join(tmp.dir, 'coordinator'),
        inventory: { sites },
        policy: {
          minAnnouncingSites: 0,
          regionFloor: false,
          maxConcurrentDrains: 10,
          maxConcurrentDrainsPerRegion: 10,
          defaultHold: 300,
        },
        tokens: [
          { name: 'alice', role: 'operator', token: TOKENS.alice },
          ...sites.map((s) => ({
            name: `agent-${s.nodes[0]}`,
            role: 'agent',
            node: s.nodes[0],
            token: TOKENS.agent(s.nodes[0]!),
          })),
        ],
        agents: { staleAfter: 5000, keepalive: 300 },
      }),
      { logger: pino({ level: 'silent' }), store: new SqliteStore(':memory:'), extensions: [], tickMs: 100 },
    );
    url = running.server.url;
    assert.match(url, /^https:/);
  });

  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await running?.close();
    tmp.remove();
  });

  describe('the coordinator link', () => {
    const links: CoordinatorLink[] = [];
    after(() => Promise.all(links.map((link) => link.stop())));

    function startLink(node: string, files: { certFile?: string; keyFile?: string }) {
      // The files are read exactly as the agent reads them at start-up.
      const credentials = readCoordinatorCredentials(
        {
          url,
          token: TOKENS.agent(node),
          caFile: pki.ca.cert,
          ...files,
          heartbeat: 200,
        },
        'agent.yaml',
      );
      const sink = new LogSink();
      const desired: AgentDesired[] = [];
      const link: CoordinatorLink = createCoordinatorLink({
        url,
        token: credentials.token,
        tls: credentials.tls,
        heartbeatMs: 200,
        node,
        logger: pino({ level: 'debug' }, sink),
        reconnect: { baseMs: 50, maxMs: 300 },
      });
      link.onDesired((d) => desired.push(d));
      link.report(report(node));
      link.start();
      links.push(link);
      return { link, sink, desired };
    }

    test('with its certificate: the reports arrive and a drain comes down the stream', async () => {
      const { link, desired, sink } = startLink('lon1-a', {
        certFile: certs.lon1.cert,
        keyFile: certs.lon1.key,
      });
      await waitFor(() => running.coordinator.nodeReport('lon1-a'), 'the report to arrive');
      await waitFor(() => link.connected(), 'the push stream to open');
      assert.deepEqual(desired.at(-1)?.drains, [], 'the stream delivers the current (empty) desired state');

      const id = await drain('lon1-a', 'mTLS test');
      const got = await waitFor(
        () => desired.find((d) => d.drains.some((x) => x.id === id)),
        'the drain to come down the stream',
      );
      assert.equal(got.drains.find((x) => x.id === id)!.reason, 'mTLS test');
      assert.deepEqual(sink.errors(), []);
    });

    test('without a certificate: refused, logged as an error, nothing delivered, still retrying', async () => {
      const { link, desired, sink } = startLink('nyc1-a', {});
      await waitFor(() => sink.errors().some((m) => m.startsWith('link:')), 'the refusal to be logged');
      // The link's upgrade is refused before any WebSocket exists, with the API's own answer.
      const first = sink.errors().find((m) => m.startsWith('link:'));
      assert.equal(
        first,
        'link: the coordinator refused the link: 403 expected a client certificate for a agent token, received none',
      );
      // A resumed TLS 1.3 session is marked `authorized` with no peer certificate by Node's
      // server; the coordinator then refuses it as a certificate naming nothing. Refused either
      // way (see the todo test in test/integration/coordinator/client-cert-resumption.test.ts).
      const refused =
        /403 expected a client certificate (for a agent token, received none|naming node nyc1-a, received one naming nothing)$/;
      // It keeps trying (the backoff is short here) and never hands the agent a desired state.
      const refusals = async () => (await running.metrics.authFailures.get()).values[0]?.value ?? 0;
      const before = await refusals();
      await new Promise((resolve) => setTimeout(resolve, 800));
      assert.ok((await refusals()) > before, 'the link keeps retrying');
      assert.equal(link.connected(), false);
      assert.deepEqual(desired, []);
      assert.equal(running.coordinator.nodeReport('nyc1-a'), undefined, 'no report got in');
      for (const message of sink.errors()) assert.match(message, refused);
    });

    test('with a certificate from another CA: refused as one that does not verify', async () => {
      const { link, desired, sink } = startLink('lon1-a', {
        certFile: certs.rogue.cert,
        keyFile: certs.rogue.key,
      });
      await waitFor(() => sink.errors().length >= 1, 'the refusal to be logged');
      for (const message of sink.errors())
        assert.match(
          message,
          /refused .*403 expected a client certificate signed by listen\.tls\.clientCa, received one that does not verify/,
        );
      assert.equal(link.connected(), false);
      assert.deepEqual(desired, []);
    });
  });

  describe('the agent process', () => {
    let proxy: Server;
    let proxyPort: number;

    before(async () => {
      proxy = createServer((socket) => socket.destroy());
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
      proxyPort = (proxy.address() as AddressInfo).port;
    });
    after(() => new Promise((resolve) => proxy.close(resolve)));

    function agentConfig(name: string, coordinator: Record<string, unknown>): string {
      const dir = join(tmp.dir, 'fra1-a');
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `${name}.yaml`);
      writeFileSync(
        file,
        stringify({
          node: 'fra1-a',
          site: 'fra1',
          prefixes: [PREFIX],
          bgp: { localAs: 65001 },
          checks: [{ name: 'proxy', type: 'tcp', host: '127.0.0.1', port: proxyPort, timeout: 1000 }],
          interval: 200,
          fastInterval: 100,
          rise: 1,
          fall: 2,
          flapDamping: { enabled: false },
          drainHold: 300,
          maintenanceFile: join(dir, 'maintenance'),
          stateDir: join(dir, 'state'),
          control: { port: 0 },
          coordinator: {
            url,
            token: TOKENS.agent('fra1-a'),
            caFile: pki.ca.cert,
            heartbeat: 300,
            ...coordinator,
          },
          logLevel: 'debug',
        }),
      );
      return file;
    }

    function startAgent(file: string): FakeExabgp {
      const exabgp = new FakeExabgp(file);
      cleanups.push(() => exabgp.stop());
      return exabgp;
    }

    test('with its certificate it follows a drain; restarted without one it is refused and keeps that drain', async () => {
      const withCert = startAgent(
        agentConfig('with-cert', { certFile: certs.fra1.cert, keyFile: certs.fra1.key }),
      );
      await withCert.waitForCommand(ANNOUNCE);
      await withCert.waitForLog(/^connected to the coordinator$/);
      await waitFor(
        () => running.coordinator.nodeReport('fra1-a')?.status.state === 'UP',
        'the agent to report UP',
      );

      const id = await drain('fra1-a', 'kernel upgrade');
      const graceful = await withCert.waitForCommand(GRACEFUL);
      await withCert.waitForCommand(WITHDRAW, 15_000, withCert.commands.indexOf(graceful) + 1);
      await waitFor(
        () => running.coordinator.nodeReport('fra1-a')?.status.prefixes[0]?.acknowledged === 'withdraw',
        'the coordinator to see the withdrawal',
      );
      await withCert.stop();

      // The same node, its certificate taken away: the coordinator refuses it.
      const lastReportAt = running.coordinator.nodeReport('fra1-a')!.receivedAt;
      const without = startAgent(agentConfig('without-cert', {}));
      const refused = await without.waitForLog(/^link: the coordinator refused the link: 403/);
      assert.equal(refused.level, 50, 'an error, not a warning');
      assert.match(String(refused.msg), /expected a client certificate for a agent token, received none/);
      // It keeps running on its last state: the drain it received is still in force, the proxy is
      // healthy, and yet nothing is announced.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.equal(without.child.exitCode, null, 'the agent keeps running');
      assert.ok(without.commands.length > 0, 'it reconciled at start');
      for (const command of without.commands) assert.match(command.line, WITHDRAW);
      const status = (await (await fetch(`${await without.controlUrl()}/status`)).json()) as AgentStatus;
      assert.equal(status.healthy, true);
      assert.deepEqual(
        status.drains.map((d) => d.id),
        [id],
      );
      assert.equal(status.prefixes[0]!.acknowledged, 'withdraw');
      assert.equal(running.coordinator.nodeReport('fra1-a')!.receivedAt, lastReportAt, 'no report got in');
    });

    test('a certificate file that does not exist: exit 2 naming the field and the path, nothing written', async () => {
      const missing = join(tmp.dir, 'nope', 'fra1-a.crt');
      const exabgp = startAgent(agentConfig('missing-cert', { certFile: missing, keyFile: certs.fra1.key }));
      const { code } = await exabgp.exited;
      assert.equal(code, 2, exabgp.stderr);
      assert.equal(exabgp.commands.length, 0);
      assert.ok(
        exabgp.stderr.includes(
          `coordinator.certFile: expected a readable file, received ${JSON.stringify(missing)} (no such file)`,
        ),
        exabgp.stderr,
      );
      assert.match(exabgp.stderr, /^herald: invalid configuration in .*missing-cert\.yaml: 1 problem:/m);
    });
  });
});
