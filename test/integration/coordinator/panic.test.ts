/**
 * Panic mode end to end with real processes: `herald coordinator` and five `herald agent`s
 * (ExaBGP's side played by the harness). Each node has a `proxy` tcp check (not fail-open) and a
 * `cert` tls check (fail-open by default) against a TLS listener the test controls. The
 * certificate every node serves turns untrusted at once: panic engages and the sites whose proxy
 * still answers keep their acknowledged announce, while a site whose proxy is fully dead, and a
 * node whose non-fail-open check fails, still withdraw, and a planned drain still withdraws.
 * Certificates fixed: panic disengages and a failing fail-open check withdraws again.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { openStream } from '../../../src/wire/http-client.js';
import { SseParser } from '../../../src/wire/sse.js';
import { opensslSkip, makeTestCerts, type LeafCert, type TestCerts } from '../../support/certs.js';
import {
  AgentProcess,
  CoordinatorProcess,
  HealthTarget,
  runCli,
  tempDir,
  TOKENS,
  waitFor,
  type Json,
} from './harness.js';

/** A TLS listener the agent's `tls` check probes; the served certificate can be swapped live. */
class TlsTarget {
  private server: tls.Server | undefined;
  port = 0;

  constructor(private leaf: LeafCert) {}

  private context(leaf: LeafCert) {
    return { cert: readFileSync(leaf.chain), key: readFileSync(leaf.key) };
  }

  async up(): Promise<void> {
    if (this.server) return;
    const server = tls.createServer(this.context(this.leaf), (socket) => socket.end());
    server.on('tlsClientError', () => undefined);
    server.listen(this.port, '127.0.0.1');
    await once(server, 'listening');
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  serve(leaf: LeafCert): void {
    this.leaf = leaf;
    this.server?.setSecureContext(this.context(leaf));
  }

  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.close();
    await once(server, 'close');
  }
}

const sites = [
  { name: 'lon1', region: 'eu', nodes: ['lon1-a', 'lon1-b'] },
  { name: 'fra1', region: 'eu', nodes: ['fra1-a'] },
  { name: 'ams1', region: 'eu', nodes: ['ams1-a'] },
  { name: 'nyc1', region: 'us', nodes: ['nyc1-a'] },
];
const nodes = sites.flatMap((s) => s.nodes);

describe('panic mode with real agents', { skip: opensslSkip() }, () => {
  const tmp = tempDir('herald-panic-');
  const coordinator = new CoordinatorProcess(tmp.dir, {
    sites,
    policy: { minAnnouncingSites: 2, regionFloor: true, maxConcurrentDrains: 1 },
    extra: { panic: { threshold: 0.5, margin: 0.1, minDuration: 1000, agentHold: 3000 } },
  });
  let certs: TestCerts;
  const proxy = new Map<string, HealthTarget>();
  const cert = new Map<string, TlsTarget>();
  const agents = new Map<string, AgentProcess>();
  const events: { event: string; data: Json }[] = [];
  const abort = new AbortController();
  const agent = (node: string) => agents.get(node)!;

  const status = (): Promise<Json> => coordinator.get('/api/v1/status');
  const nodeOf = (fleet: Json, node: string): Json =>
    fleet.sites.flatMap((s: Json) => s.nodes).find((n: Json) => n.name === node);
  const routeIs = (node: string, route: 'announce' | 'graceful' | 'withdraw', timeoutMs = 20_000) =>
    waitFor(() => agent(node).lastRoute() === route, `${node} to ${route}`, timeoutMs);
  /** Route commands the agent wrote since `mark` entries of its history. */
  const routesSince = (node: string, mark: number) => agent(node).routeHistory().slice(mark);

  /** The coordinator's panic transitions counter (it may have moved while the fleet started). */
  async function transitions(to: 'engaged' | 'disengaged'): Promise<number> {
    const text = await (await fetch(`${coordinator.url}/metrics`)).text();
    return Number(
      new RegExp(`^herald_panic_transitions_total\\{to="${to}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0,
    );
  }

  async function agentStatus(node: string): Promise<Json> {
    const url = await agent(node).exabgp!.controlUrl();
    return (await fetch(`${url}/status`)).json();
  }

  before(async () => {
    certs = await makeTestCerts({ dir: `${tmp.dir}/pki` });
    await coordinator.start();
    for (const site of sites)
      for (const node of site.nodes) {
        const health = new HealthTarget();
        await health.up();
        proxy.set(node, health);
        const listener = new TlsTarget(certs.valid);
        await listener.up();
        cert.set(node, listener);
        const process = new AgentProcess(tmp.dir, {
          node,
          site: site.name,
          coordinatorUrl: () => coordinator.url,
          health,
          // Withdrawing takes 20 bad rounds (~2 s, more on a loaded machine): time for the
          // coordinator to see the fleet-wide fault and push the panic.
          fall: 20,
          // Generous timeouts: a probe timing out on a loaded machine is a real failure here.
          proxyTimeout: 1000,
          extraChecks: () => [
            {
              name: 'cert',
              type: 'tls',
              host: '127.0.0.1',
              port: listener.port,
              caFile: certs.ca.cert,
              timeout: 1000,
            },
          ],
        });
        agents.set(node, process);
        await process.start();
      }
    await waitFor(
      async () =>
        (await status()).sites.every((s: Json) => s.announcing) &&
        nodes.every((n) => agent(n).lastRoute() === 'announce'),
      'every node to announce',
      120_000,
    );
    await subscribe();
  });

  /** Follows the coordinator's event stream into `events` (again after a restart). */
  async function subscribe(): Promise<void> {
    const mark = events.length;
    const stream = await openStream({ baseUrl: coordinator.url, token: TOKENS.viewer }, '/api/v1/events', {
      signal: abort.signal,
    });
    const parser = new SseParser((m) => events.push({ event: m.event, data: JSON.parse(m.data) }));
    stream.on('data', (chunk: string) => parser.push(chunk));
    stream.on('error', () => undefined);
    await waitFor(() => events.slice(mark).some((e) => e.event === 'hello'), 'the event stream to open');
  }

  after(async () => {
    abort.abort();
    for (const a of agents.values()) await a.stop();
    await coordinator.stop();
    for (const target of [...proxy.values(), ...cert.values()]) await target.down();
    await certs?.cleanup();
    tmp.remove();
  });

  it('the tls check is fail-open by default, the tcp check is not; no panic while healthy', async () => {
    // (A probe timing out while a loaded machine starts the fleet may engage panic briefly.)
    const fleet = await waitFor(async () => {
      const current = await status();
      return !current.panic.active && current.panic.healthySites === 4 && current;
    }, 'no panic and four healthy sites');
    assert.equal(fleet.panic.enabled, true);
    assert.equal(fleet.panic.reportingSites, 4);
    const report = await agentStatus('fra1-a');
    assert.deepEqual(
      report.checks.map((c: Json) => [c.name, c.failOpen, c.status]),
      [
        ['proxy', false, 'up'],
        ['cert', true, 'up'],
      ],
    );
  });

  it('a fleet-wide certificate fault engages panic: answering sites keep announcing, a dead one withdraws', async () => {
    const marks = new Map(nodes.map((n) => [n, agent(n).routeHistory().length]));
    const eventMark = events.length;
    const engagedBefore = await transitions('engaged');
    const since = Date.now();
    // nyc1's proxy dies completely; everywhere else the served certificate turns untrusted.
    await proxy.get('nyc1-a')!.down();
    await cert.get('nyc1-a')!.down();
    for (const node of ['lon1-a', 'lon1-b', 'fra1-a', 'ams1-a']) cert.get(node)!.serve(certs.untrusted);

    const engaged = await waitFor(
      () => events.slice(eventMark).find((e) => e.event === 'panic.engaged'),
      'the panic.engaged event',
    );
    assert.equal(engaged.data.panic.active, true);
    // nyc1's dead proxy is hard evidence and counts at once; the certificates fail after `fall`
    // rounds, so panic may engage once two of the four cert sites have reported.
    assert.match(engaged.data.panic.reason, /below the panic threshold of 50%; failing: cert on [234] sites/);

    await routeIs('nyc1-a', 'withdraw');
    // Every node whose proxy answers reports the certificate check ignored and stays announced.
    await waitFor(async () => {
      const fleet = await status();
      return ['lon1-a', 'lon1-b', 'fra1-a', 'ams1-a'].every((n) =>
        nodeOf(fleet, n).panicIgnored?.includes('cert'),
      );
    }, 'every answering node to report the certificate check ignored');
    // Keep watching for a while: no withdraw on any of them at any point since the fault.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    for (const node of ['lon1-a', 'lon1-b', 'fra1-a', 'ams1-a']) {
      assert.deepEqual(
        routesSince(node, marks.get(node)!),
        [],
        `${node}: ${agent(node).routeHistory().join(' ')}`,
      );
      assert.equal(agent(node).lastRoute(), 'announce');
    }
    const fleet = await status();
    assert.deepEqual(
      fleet.sites.map((s: Json) => [s.name, s.announcing]),
      [
        ['lon1', true],
        ['fra1', true],
        ['ams1', true],
        ['nyc1', false],
      ],
    );
    assert.equal(fleet.panic.active, true);
    assert.equal(fleet.panic.healthySites, 0);
    assert.deepEqual(
      fleet.panic.ignoring.map((n: Json) => n.node),
      ['ams1-a', 'fra1-a', 'lon1-a', 'lon1-b'],
    );

    // The agent shows it too: status, check detail and metrics.
    const report = await agentStatus('fra1-a');
    assert.equal(report.panic.active, true);
    assert.deepEqual(report.panic.ignored, ['cert']);
    const check = report.checks.find((c: Json) => c.name === 'cert');
    assert.equal(check.status, 'warn');
    assert.equal(check.panicIgnored, true);
    assert.match(check.detail, /^panic: ignored \(.+\)$/);
    const agentMetrics = await (await fetch(`${await agent('fra1-a').exabgp!.controlUrl()}/metrics`)).text();
    assert.match(agentMetrics, /^herald_panic_active 1$/m);
    assert.match(agent('fra1-a').exabgp!.stderr, /PANIC MODE from the coordinator/);

    // Loud on the coordinator: metrics, audit, log, `herald status`.
    const metrics = await (await fetch(`${coordinator.url}/metrics`)).text();
    assert.match(metrics, /^herald_panic_active 1$/m);
    assert.equal(await transitions('engaged'), engagedBefore + 1);
    assert.equal(await transitions('disengaged'), engagedBefore, 'no flapping');
    const audit = await coordinator.get(`/api/v1/audit?action=panic.engaged&since=${since}`);
    assert.equal(audit.entries.length, 1);
    assert.equal(audit.entries[0].actor, 'coordinator');
    assert.match(coordinator.log, /"level":40.*PANIC MODE ENGAGED/);
    const cli = await runCli(['status'], { url: coordinator.url, token: TOKENS.viewer });
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /^!!! PANIC MODE since .*0 of 4 reporting site\(s\) pass every check/);
    assert.match(cli.stdout, /fra1-a .*\[PANIC: ignoring cert\]/);
  });

  it('under panic, a failing check that is not fail-open still withdraws, and so does a planned drain', async () => {
    // lon1-b: the proxy check fails (tcp refused) while its TLS listener still answers.
    await proxy.get('lon1-b')!.down();
    await routeIs('lon1-b', 'withdraw');
    assert.equal(agent('lon1-a').lastRoute(), 'announce');

    const drained = await runCli(['drain', 'ams1', '--reason', 'planned work during panic', '--wait'], {
      url: coordinator.url,
      token: TOKENS.alice,
    });
    assert.equal(drained.code, 0, drained.stdout + drained.stderr);
    assert.equal(agent('ams1-a').lastRoute(), 'withdraw');
    const released = await runCli(['undrain', 'ams1', '--wait'], {
      url: coordinator.url,
      token: TOKENS.alice,
    });
    assert.equal(released.code, 0, released.stdout + released.stderr);
    await routeIs('ams1-a', 'announce');
    assert.equal((await status()).panic.active, true);
  });

  it('agents that lose the coordinator keep the panic only for agentHold; a restarted coordinator resumes it', async () => {
    const lost = Date.now();
    await coordinator.kill9();
    // Fail-static: right after the loss fra1-a still applies the panic, with an end in sight.
    const during = await agentStatus('fra1-a');
    assert.equal(during.panic.active, true);
    assert.equal(agent('fra1-a').lastRoute(), 'announce');
    // Bounded: once agentHold (3 s) has passed since the last contact, the failing certificate
    // check counts again and the node withdraws after its fall rounds.
    await routeIs('fra1-a', 'withdraw', 60_000);
    const withdrawnAt = agent('fra1-a')
      .exabgp!.commands.filter((c) => c.line.includes('withdraw route'))
      .at(-1)!.at;
    assert.ok(withdrawnAt - lost >= 3000, `withdrew ${withdrawnAt - lost} ms after the coordinator was lost`);
    const lapsed = await agentStatus('fra1-a');
    assert.equal(lapsed.panic.active, false);
    assert.ok(lapsed.panic.expiresAt <= Date.now());
    assert.match(agent('fra1-a').exabgp!.stderr, /panic mode lapsed: no word from the coordinator/);

    // The coordinator comes back: the stored panic is resumed and pushed on reconnect.
    await coordinator.start();
    await subscribe();
    assert.equal((await status()).panic.active, true);
    await routeIs('fra1-a', 'announce', 60_000);
    await waitFor(
      async () => (await agentStatus('fra1-a')).panic.active === true,
      'fra1-a to apply the panic again',
    );
  });

  it('certificates fixed: panic disengages; a fail-open check failing after that withdraws again', async () => {
    const eventMark = events.length;
    const since = Date.now();
    for (const node of ['lon1-a', 'lon1-b', 'fra1-a', 'ams1-a']) cert.get(node)!.serve(certs.valid);
    const disengaged = await waitFor(
      () => events.slice(eventMark).find((e) => e.event === 'panic.disengaged'),
      'the panic.disengaged event',
    );
    assert.equal(disengaged.data.panic.active, false);
    // lon1, fra1 and ams1 pass every check once their agents see the valid certificate; panic lets
    // go as soon as enough of them have reported it, so the event may count 2 or 3 of them.
    assert.ok(
      [2, 3].includes(disengaged.data.panic.healthySites),
      String(disengaged.data.panic.healthySites),
    );
    await waitFor(async () => (await agentStatus('fra1-a')).panic === undefined, 'fra1-a to drop the panic');
    const metrics = await (await fetch(`${coordinator.url}/metrics`)).text();
    assert.match(metrics, /^herald_panic_active 0$/m);
    const audit = await coordinator.get(`/api/v1/audit?action=panic.disengaged&since=${since}`);
    assert.equal(audit.entries.length, 1);
    const cli = await runCli(['status'], { url: coordinator.url, token: TOKENS.viewer });
    assert.doesNotMatch(cli.stdout, /PANIC/);

    // Every fixed site counted before fra1 breaks again (else 2 of 4 failing would be panic again).
    await waitFor(async () => (await status()).panic.healthySites === 3, 'three healthy sites');
    // Without panic, fra1's certificate failing on its own withdraws fra1 (1 of 4 failing: no panic).
    cert.get('fra1-a')!.serve(certs.untrusted);
    await routeIs('fra1-a', 'withdraw');
    assert.equal((await status()).panic.active, false);
    cert.get('fra1-a')!.serve(certs.valid);
    await routeIs('fra1-a', 'announce');

    // nyc1 and lon1-b come back.
    await proxy.get('nyc1-a')!.up();
    await cert.get('nyc1-a')!.up();
    await proxy.get('lon1-b')!.up();
    await routeIs('nyc1-a', 'announce');
    await routeIs('lon1-b', 'announce');
  });
});
