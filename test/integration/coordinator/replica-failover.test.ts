/**
 * Client-side failover between coordinator replicas, with real processes: two `herald
 * coordinator`s (each on its own SQLite today, so a drain is recorded on both to stand in for a
 * shared store), real agents whose `coordinator.url` lists both, and the real `herald` CLI with
 * a comma-separated HERALD_COORDINATOR whose first entry is down.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
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

const sites = [
  { name: 'lon1', region: 'eu', nodes: ['lon1-a'] },
  { name: 'nyc1', region: 'eu', nodes: ['nyc1-a'] },
];

/** A loopback URL nothing listens on (a port the kernel gave and took back). */
async function deadUrl(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

async function node(coordinator: CoordinatorProcess, name: string): Promise<Json> {
  const status = await coordinator.get('/api/v1/status');
  return status.sites.flatMap((s: Json) => s.nodes).find((n: Json) => n.name === name);
}

describe('coordinator replicas: clients fail over', () => {
  const tmp = tempDir('herald-replicas-');
  const first = new CoordinatorProcess(tmp.dir, { sites, policy: { minAnnouncingSites: 1 } });
  // Each replica has its own store today: the second sees no reports until agents fail over to
  // it, so its floors are off for the drain the test records on both.
  const secondDir = tempDir('herald-replicas-b-');
  const second = new CoordinatorProcess(secondDir.dir, {
    sites,
    policy: { minAnnouncingSites: 0, regionFloor: false },
  });
  const health = new Map<string, HealthTarget>();
  const agents = new Map<string, AgentProcess>();
  let dead = '';

  before(async () => {
    dead = await deadUrl();
    await first.start();
    await second.start();
    for (const site of sites)
      for (const name of site.nodes) {
        const target = new HealthTarget();
        await target.up();
        health.set(name, target);
        const agent = new AgentProcess(tmp.dir, {
          node: name,
          site: site.name,
          coordinatorUrl: () => [first.url, second.url],
          health: target,
        });
        agents.set(name, agent);
        await agent.start();
      }
    for (const name of agents.keys())
      await waitFor(
        async () => (await node(first, name))?.connected,
        `${name} connected to the first`,
        30_000,
      );
  });

  after(async () => {
    for (const agent of agents.values()) await agent.stop();
    await first.kill9();
    await second.kill9();
    for (const target of health.values()) await target.down();
    tmp.remove();
    secondDir.remove();
  });

  it('the CLI with a list whose first entry is down reads, changes and follows through the next', async () => {
    // The agents follow the first replica: the CLI reaches it as the second entry of its list.
    const env = { url: `${dead},${first.url}`, token: TOKENS.alice };
    const status = await runCli(['status', '--json'], env);
    assert.equal(status.code, 0, status.stderr);
    assert.deepEqual(
      JSON.parse(status.stdout).sites.map((s: Json) => s.name),
      sites.map((s) => s.name),
    );
    // A POST that could not connect reached no coordinator: it goes to the next one.
    const drain = await runCli(
      [
        'drain',
        'nyc1',
        '--reason',
        'first replica down',
        '--hold',
        '0s',
        '--wait',
        '--timeout',
        '30s',
        '--json',
      ],
      env,
    );
    assert.equal(drain.code, 0, drain.stderr);
    const id = JSON.parse(drain.stdout).drain?.id ?? JSON.parse(drain.stdout).id;
    const stored = (await first.get(`/api/v1/drains/${id}`)) as Json;
    assert.equal(stored.reason, 'first replica down');
    // --wait followed the drain over the event stream of the second entry until withdrawn.
    assert.equal(agents.get('nyc1-a')!.lastRoute(), 'withdraw');
    const undrain = await runCli(['undrain', 'nyc1', '--reason', 'done', '--wait', '--timeout', '30s'], env);
    assert.equal(undrain.code, 0, undrain.stderr);
  });

  it('a bad entry in the list is a usage error naming it, and nothing is sent', async () => {
    const result = await runCli(['status'], { url: `${second.url},ftp://nowhere`, token: TOKENS.alice });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /entry 2 of 2/);
    assert.match(result.stderr, /ftp:\/\/nowhere/);
    const empty = await runCli(['status'], { url: `${second.url},`, token: TOKENS.alice });
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /entry 2 of 2.*empty/);
  });

  it('agents follow the second replica when the first dies, keeping their drains, and keep them while none answers', async () => {
    const lon1 = agents.get('lon1-a')!;
    // The same drain on both replicas (a shared store would hold it once).
    for (const coordinator of [first, second]) {
      const made = await coordinator.api('POST', '/api/v1/drains', TOKENS.alice, {
        site: 'lon1',
        reason: 'replica failover test',
        hold: 0,
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
    }
    await waitFor(() => lon1.lastRoute() === 'withdraw', 'lon1-a to withdraw', 20_000);
    const routesBefore = lon1.routeHistory().length;

    await first.kill9();
    await waitFor(
      async () => (await node(second, 'lon1-a'))?.connected,
      'lon1-a to connect to the second replica',
      30_000,
    );
    // The replica counts the link before the agent's own log line reaches this process.
    const connectedLine = new RegExp(
      `"url":"${second.url.replace(/[.:/]/g, '\\$&')}"[^\n]*connected to the coordinator`,
    );
    await waitFor(
      () => connectedLine.test(lon1.exabgp!.stderr),
      "lon1-a's log to say it is connected to the second replica",
      10_000,
    );
    // B's status shows it reporting and holding the drain; the route never came back.
    await waitFor(
      async () => (await node(second, 'lon1-a'))?.drains.length === 1,
      'lon1-a to report the drain',
    );
    assert.equal(lon1.routeHistory().length, routesBefore, lon1.routeHistory().join(','));
    assert.equal(lon1.lastRoute(), 'withdraw');

    // No coordinator answers: the agent keeps its last drains (fail-static) while it retries both.
    const logBefore = lon1.exabgp!.stderr.length;
    await second.kill9();
    await waitFor(
      () => {
        const log = lon1.exabgp!.stderr.slice(logBefore);
        return (
          log.includes(`cannot reach the coordinator at ${first.url}`) &&
          log.includes(`cannot reach the coordinator at ${second.url}`)
        );
      },
      'the agent to try both replicas',
      40_000,
    );
    assert.equal(lon1.lastRoute(), 'withdraw');
    assert.equal(lon1.routeHistory().length, routesBefore);
  });
});
