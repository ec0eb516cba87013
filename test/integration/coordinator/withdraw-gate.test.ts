/**
 * The coordinator's withdraw step gate (the fleet floor holds while a drain waits in its graceful
 * phase), its event stream, /metrics, and TLS, against real `herald agent` processes (ExaBGP's
 * side played by the test, each proxy by a TCP listener the agent's check probes). Real HTTP(S)
 * on 127.0.0.1 and a real SQLite store.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { coordinatorConfigSchema } from '../../../src/coordinator/config-schema.js';
import { startCoordinator, type RunningCoordinator } from '../../../src/coordinator/run-coordinator.js';
import { createLogger } from '../../../src/util/log.js';
import { openStream } from '../../../src/wire/http-client.js';
import { SseParser } from '../../../src/wire/sse.js';
import { opensslSkip, TestPki } from '../../support/certs.js';
import { AgentProcess, HealthTarget, runCli, tempDir, TOKENS, waitFor, type Json } from './harness.js';

const sites = [
  { name: 'lon1', region: 'eu', location: { lat: 0, lon: 0 }, nodes: ['lon1-a', 'lon1-b'] },
  { name: 'fra1', region: 'eu', location: { lat: 0, lon: 0 }, nodes: ['fra1-a'] },
  { name: 'nyc1', region: 'us', location: { lat: 0, lon: 0 }, nodes: ['nyc1-a'] },
];

function config(dataDir: string, extra: Record<string, unknown> = {}) {
  return coordinatorConfigSchema.parse({
    listen: { host: '127.0.0.1', port: 0 },
    dataDir,
    inventory: { sites },
    policy: { minAnnouncingSites: 2, regionFloor: false, maxConcurrentDrains: 2, defaultHold: 300 },
    tokens: [
      { name: 'alice', role: 'operator', token: TOKENS.alice },
      { name: 'grafana', role: 'viewer', token: TOKENS.viewer },
      ...sites
        .flatMap((s) => s.nodes)
        .map((node) => ({ name: `agent-${node}`, role: 'agent', node, token: TOKENS.agent(node) })),
    ],
    agents: { staleAfter: 2000, keepalive: 300 },
    ...extra,
  });
}

interface Fleet {
  agents: Map<string, AgentProcess>;
  health: Map<string, HealthTarget>;
  stop(): Promise<void>;
}

/** A real agent per node, each following its own health target, all announcing. */
async function startFleet(running: RunningCoordinator, dir: string, caFile?: string): Promise<Fleet> {
  const agents = new Map<string, AgentProcess>();
  const health = new Map<string, HealthTarget>();
  const fleet: Fleet = {
    agents,
    health,
    async stop() {
      for (const agent of agents.values()) await agent.stop();
      for (const target of health.values()) await target.down();
    },
  };
  for (const site of sites)
    for (const node of site.nodes) {
      const target = new HealthTarget();
      await target.up();
      health.set(node, target);
      const agent = new AgentProcess(dir, {
        node,
        site: site.name,
        coordinatorUrl: () => running.server.url,
        health: target,
        ...(caFile ? { caFile } : {}),
      });
      agents.set(node, agent);
      await agent.start();
    }
  await waitFor(() => running.coordinator.status().announcingSites === 3, 'every site to announce', 30_000);
  return fleet;
}

describe('withdraw step gate and event stream', () => {
  const tmp = tempDir('herald-gate-');
  let running: RunningCoordinator;
  let fleet: Fleet;
  const route = (node: string) => fleet.agents.get(node)!.lastRoute();
  const events: { event: string; data: Json }[] = [];
  const abort = new AbortController();

  before(async () => {
    running = await startCoordinator(config(tmp.dir), {
      logger: createLogger('test', 'silent'),
      tickMs: 100,
    });
    fleet = await startFleet(running, tmp.dir);
    const stream = await openStream({ baseUrl: running.server.url, token: TOKENS.viewer }, '/api/v1/events', {
      signal: abort.signal,
    });
    const parser = new SseParser((m) => events.push({ event: m.event, data: JSON.parse(m.data) }));
    stream.on('data', (chunk: string) => parser.push(chunk));
    stream.on('error', () => undefined);
    await waitFor(() => events.some((e) => e.event === 'hello'), 'the event stream to open');
  });

  after(async () => {
    abort.abort();
    await fleet?.stop();
    await running.close();
    tmp.remove();
  });

  it('holds GRACEFUL_SHUTDOWN while the floor would break, and withdraws once it no longer would', async () => {
    const api = { url: running.server.url, token: TOKENS.alice };
    const created = await runCli(['drain', 'lon1', '--reason', 'gate test', '--hold', '1s', '--json'], api);
    assert.equal(created.code, 0, created.stderr);
    const id = JSON.parse(created.stdout).drain.id as string;
    await waitFor(() => route('lon1-a') === 'graceful' && route('lon1-b') === 'graceful', 'lon1 graceful');
    // During the graceful phase fra1's proxy dies: withdrawing lon1 now would leave one site.
    await fleet.health.get('fra1-a')!.down();
    await waitFor(() => route('fra1-a') === 'withdraw', 'fra1-a to withdraw on its failed check');
    const blocked = await waitFor(
      () => events.find((e) => e.event === 'drain.blocked' && e.data.drain.id === id),
      'the drain to be blocked at its withdraw step',
    );
    assert.deepEqual(
      blocked.data.drain.blocked.map((v: Json) => v.rule),
      ['minAnnouncingSites'],
    );
    assert.equal(blocked.data.drain.phase, 'graceful');
    // The real agents keep announcing with GRACEFUL_SHUTDOWN: the fleet floor holds.
    assert.equal(route('lon1-a'), 'graceful');
    assert.equal(route('lon1-b'), 'graceful');
    assert.equal(running.coordinator.status().announcingSites, 2);
    const status = await runCli(['status', 'lon1'], { url: running.server.url, token: TOKENS.viewer });
    assert.match(status.stdout, /hold d-\w+ by alice: gate test \[in progress\]/);

    await fleet.health.get('fra1-a')!.up();
    await waitFor(
      () => events.find((e) => e.event === 'drain.completed' && e.data.drain.id === id),
      'the drain to complete',
    );
    assert.equal(route('lon1-a'), 'withdraw');
    assert.equal(route('lon1-b'), 'withdraw');
    // Never a withdraw while the gate held: each lon1 node went graceful, then withdrew once.
    for (const node of ['lon1-a', 'lon1-b'])
      assert.deepEqual(fleet.agents.get(node)!.routeHistory().slice(-2), ['graceful', 'withdraw'], node);
    const drain = (await fetchJson(running, `/api/v1/drains/${id}`)) as Json;
    assert.deepEqual(drain.blocked, []);
    assert.equal(drain.phase, 'withdraw');

    // The stream carried the whole story, typed.
    const mine = events
      .filter((e) => e.data.drain?.id === id || e.data.entry?.drainId === id)
      .map((e) => e.event);
    for (const type of ['drain.created', 'drain.progress', 'drain.blocked', 'drain.completed', 'audit'])
      assert.ok(mine.includes(type), `${type} in ${[...new Set(mine)].join(', ')}`);
    assert.ok(
      events.some((e) => e.event === 'agent.report' && e.data.node === 'fra1-a' && e.data.healthy === false),
    );
    const audit = (await fetchJson(running, `/api/v1/audit?drain=${id}&action=drain.blocked`)) as Json;
    assert.equal(audit.entries[0].details.rules[0].rule, 'minAnnouncingSites');

    const released = await runCli(['undrain', 'lon1', '--wait', '--json'], api);
    assert.equal(released.code, 0, released.stderr);
    assert.equal(JSON.parse(released.stdout).outcome, 'released');
    await waitFor(() => route('lon1-a') === 'announce', 'lon1-a to announce again');
  });

  it('--wait that times out exits 4 and says the drain stays recorded', async () => {
    const api = { url: running.server.url, token: TOKENS.alice };
    const result = await runCli(
      ['drain', 'nyc1', '--reason', 'slow one', '--hold', '10m', '--wait', '--timeout', '1s'],
      api,
    );
    assert.equal(result.code, 4, result.stdout + result.stderr);
    assert.match(result.stderr, /timed out after 1s: the drain d-\w+ stays recorded and in force/);
    const active = (await fetchJson(running, '/api/v1/drains')) as Json;
    assert.deepEqual(
      active.drains.map((d: Json) => [d.target.site, d.status, d.complete]),
      [['nyc1', 'active', false]],
    );
    const released = await runCli(['undrain', 'nyc1'], api);
    assert.equal(released.code, 0, released.stderr);
  });

  it('exposes Prometheus metrics', async () => {
    const response = await fetch(`${running.server.url}/metrics`);
    const text = await response.text();
    assert.equal(response.status, 200);
    assert.match(text, /herald_coordinator_agents_connected 4/);
    assert.match(text, /herald_coordinator_site_announcing\{site="lon1"\} 1/);
    assert.match(
      text,
      /herald_coordinator_http_requests_total\{route="\/api\/v1\/drains",method="POST",status="201"\} [1-9]\d*$/m,
    );
  });
});

async function fetchJson(running: RunningCoordinator, path: string): Promise<unknown> {
  const response = await fetch(running.server.url + path, {
    headers: { authorization: `Bearer ${TOKENS.viewer}` },
  });
  return response.json();
}

describe('coordinator over TLS with a private CA', { skip: opensslSkip() }, () => {
  const tmp = tempDir('herald-tls-');
  let pki: TestPki;
  let running: RunningCoordinator;
  let fleet: Fleet | undefined;

  before(async () => {
    pki = await TestPki.create(join(tmp.dir, 'pki'));
    const leaf = await pki.issueLeaf('coordinator', { ips: ['127.0.0.1'], dns: ['localhost'] });
    running = await startCoordinator(
      config(join(tmp.dir, 'data'), {
        listen: { host: '127.0.0.1', port: 0, tls: { certFile: leaf.chain, keyFile: leaf.key } },
      }),
      { logger: createLogger('test', 'silent'), tickMs: 100 },
    );
    fleet = await startFleet(running, tmp.dir, pki.ca.cert);
  });

  after(async () => {
    await fleet?.stop();
    await running?.close();
    tmp.remove();
  });

  it('agents and the CLI connect with the CA; without it the CLI fails', async () => {
    assert.match(running.server.url, /^https:/);
    assert.equal(running.coordinator.status().announcingSites, 3, 'every agent reports over TLS');
    const env = { url: running.server.url, token: TOKENS.viewer };
    const withCa = await runCli(['status', '--ca-file', pki.ca.cert, '--json'], env);
    assert.equal(withCa.code, 0, withCa.stderr);
    assert.equal(JSON.parse(withCa.stdout).announcingSites, 3);
    const withoutCa = await runCli(['status'], env);
    assert.equal(withoutCa.code, 1);
    assert.match(withoutCa.stderr, /cannot reach the coordinator .*(SELF_SIGNED|UNABLE_TO|CERT)/);
  });
});
