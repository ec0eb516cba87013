/**
 * The pre-drain seen from the coordinator, with a real `herald coordinator` process, real
 * `herald agent` processes (ExaBGP's side played by the harness, each proxy a TCP listener) and
 * the real CLI. lon1-a's pre-drain steers with a command and reads its session count from a file
 * (`cat`, a real gauge command): the drain waits in its pre-drain, shown live in `drain --wait`,
 * `herald status` and /metrics; meanwhile fra1 goes down, so when the pre-drain ends the policy —
 * checked again then — refuses the withdraw: lon1 stays on GRACEFUL_SHUTDOWN with the rule shown
 * and never withdraws, until fra1 is back. nyc1-a's gauge command hangs: the drain goes on at the
 * pre-drain's deadline, and the failure is reported.
 */
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
  { name: 'fra1', region: 'eu', nodes: ['fra1-a'] },
  { name: 'nyc1', region: 'us', nodes: ['nyc1-a'] },
];

describe('pre-drain and the policy re-check, coordinator and agents', () => {
  const tmp = tempDir('herald-predrain-policy-');
  const countFile = join(tmp.dir, 'lon1-a.sessions');
  const steeredFile = join(tmp.dir, 'lon1-a.steered');
  const coordinator = new CoordinatorProcess(tmp.dir, {
    sites,
    policy: { minAnnouncingSites: 2, regionFloor: false, maxConcurrentDrains: 2, defaultHold: 500 },
  });
  const agents = new Map<string, AgentProcess>();
  const health = new Map<string, HealthTarget>();
  const route = (node: string) => agents.get(node)!.lastRoute();
  const operator = () => ({ url: coordinator.url, token: TOKENS.alice });
  const viewer = () => ({ url: coordinator.url, token: TOKENS.viewer });
  const preDrains: Record<string, Record<string, unknown>> = {
    'lon1-a': {
      steerCommand: ['touch', steeredFile],
      releaseCommand: ['rm', '-f', steeredFile],
      gaugeCommand: ['cat', countFile],
      threshold: 0,
      deadline: '10m',
      pollInterval: '200ms',
      commandTimeout: '2s',
    },
    'nyc1-a': {
      gaugeCommand: ['sleep', '30'],
      threshold: 0,
      deadline: '2s',
      pollInterval: '200ms',
      commandTimeout: '300ms',
    },
  };

  before(async () => {
    writeFileSync(countFile, '3\n');
    await coordinator.start();
    for (const site of sites)
      for (const node of site.nodes) {
        const target = new HealthTarget();
        await target.up();
        health.set(node, target);
        const agent = new AgentProcess(tmp.dir, {
          node,
          site: site.name,
          coordinatorUrl: () => coordinator.url,
          health: target,
          ...(preDrains[node] ? { preDrain: preDrains[node] } : {}),
        });
        agents.set(node, agent);
        await agent.start();
      }
    await waitFor(
      async () => (await coordinator.get('/api/v1/status')).announcingSites === 3,
      'every site to announce',
      30_000,
    );
  });

  after(async () => {
    for (const agent of agents.values()) await agent.stop();
    for (const target of health.values()) await target.down();
    await coordinator.stop();
    tmp.remove();
  });

  const drainOf = async (id: string): Promise<Json> => coordinator.get(`/api/v1/drains/${id}`);
  const activeDrain = async (site: string): Promise<Json> =>
    (await coordinator.get('/api/v1/drains')).drains.find((d: Json) => d.target.site === site);

  it('waits in the pre-drain, checks the policy again after it, and never withdraws while the floor would break', async () => {
    const waiting = runCli(
      ['drain', 'lon1', '--reason', 'turn maintenance', '--hold', '500ms', '--wait', '--timeout', '120s'],
      operator(),
      150_000,
    );
    const drain = await waitFor(async () => {
      const d = await activeDrain('lon1');
      return d?.nodes[0]?.preDrain?.phase === 'waiting' && d.nodes[0].preDrain.count === 3 ? d : undefined;
    }, "lon1-a's pre-drain to read 3 live sessions");
    assert.ok(existsSync(steeredFile), 'the steer command ran');
    assert.equal(drain.nodes[0].stage, 'pending');
    assert.match(
      drain.nodes[0].detail,
      /^pre-drain: waiting for sessions: 3 live, threshold 0 \(deadline \d\d:\d\d:\d\dZ\)$/,
    );

    // Long past the graceful hold, the withdraw step is still closed and the route normal.
    await waitFor(
      async () => (await coordinator.get('/api/v1/status')).generatedAt > drain.createdAt + 2000,
      'two seconds of pre-drain on the coordinator clock',
    );
    const held = await drainOf(drain.id);
    assert.equal(held.phase, 'graceful');
    assert.deepEqual(held.blocked, []);
    assert.equal(route('lon1-a'), 'announce', 'no GRACEFUL_SHUTDOWN during the pre-drain');

    const status = await runCli(['status', 'lon1'], viewer());
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /lon1-a .*\n {4}pre-drain: waiting for sessions: 3 live, threshold 0/);
    const json = JSON.parse((await runCli(['status', '--json'], viewer())).stdout);
    const lon1a = json.sites.find((s: Json) => s.name === 'lon1').nodes[0];
    assert.equal(lon1a.preDrain.phase, 'waiting');
    assert.equal(lon1a.preDrain.count, 3);
    const metrics = await (await fetch(`${coordinator.url}/metrics`)).text();
    assert.match(metrics, /^herald_coordinator_predrain_sessions\{site="lon1",node="lon1-a"\} 3$/m);
    assert.match(
      metrics,
      /^herald_coordinator_predrain_phase\{site="lon1",node="lon1-a",phase="waiting"\} 1$/m,
    );

    // The count moves: the drain view follows it live.
    writeFileSync(countFile, '1\n');
    await waitFor(
      async () => (await drainOf(drain.id)).nodes[0].preDrain?.count === 1,
      'the count to read 1',
    );

    // fra1's proxy dies during the pre-drain: withdrawing lon1 now would leave one site.
    await health.get('fra1-a')!.down();
    await waitFor(() => route('fra1-a') === 'withdraw', 'fra1-a to withdraw on its failed check');
    await waitFor(
      async () => (await coordinator.get('/api/v1/status')).announcingSites === 2,
      'the coordinator to count two sites announcing',
    );
    writeFileSync(countFile, '0\n');
    const blocked = await waitFor(async () => {
      const d = await drainOf(drain.id);
      return d.blocked.length ? d : undefined;
    }, 'the policy to refuse the withdraw step after the pre-drain');
    assert.deepEqual(
      blocked.blocked.map((v: Json) => v.rule),
      ['minAnnouncingSites'],
    );
    assert.equal(blocked.phase, 'graceful');
    assert.equal(blocked.nodes[0].preDrain.phase, 'complete');
    assert.match(blocked.nodes[0].detail, /pre-drain done: 0 sessions ≤ threshold 0/);
    assert.equal(route('lon1-a'), 'graceful', 'GRACEFUL_SHUTDOWN after the pre-drain, not a withdraw');

    await health.get('fra1-a')!.up();
    await waitFor(async () => (await drainOf(drain.id)).complete, 'the drain to complete', 30_000);
    assert.equal(route('lon1-a'), 'withdraw');
    // announce through the pre-drain, then GRACEFUL_SHUTDOWN, then one withdraw: never withdrawn while blocked.
    const all = agents.get('lon1-a')!.routeHistory();
    const history = all.slice(all.indexOf('announce'));
    assert.deepEqual(history.slice(-2), ['graceful', 'withdraw']);
    assert.equal(history.filter((r) => r === 'withdraw').length, 1, history.join(' '));

    const result = await waiting;
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /lon1-a +pending +pre-drain: waiting for sessions: 3 live, threshold 0/);
    assert.match(result.stdout, /lon1-a +pending +pre-drain: waiting for sessions: 1 live/);
    assert.match(result.stdout, /withdraw step blocked by minAnnouncingSites/);
    assert.match(
      result.stdout,
      /lon1-a +draining +GRACEFUL_SHUTDOWN acknowledged.*pre-drain done: 0 sessions/,
    );

    const released = await runCli(['undrain', 'lon1', '--wait'], operator());
    assert.equal(released.code, 0, released.stderr);
    await waitFor(() => !existsSync(steeredFile), 'the release command to undo the steering');
    await waitFor(() => route('lon1-a') === 'announce', 'lon1-a to announce again');
  });

  it('a gauge command that hangs holds the drain no longer than the pre-drain deadline, and is reported', async () => {
    const waiting = runCli(
      ['drain', 'nyc1', '--reason', 'gauge hangs', '--hold', '300ms', '--wait', '--timeout', '60s'],
      operator(),
      90_000,
    );
    const failing = await waitFor(async () => {
      const d = await activeDrain('nyc1');
      return d?.nodes[0]?.preDrain?.gaugeError ? d : undefined;
    }, "nyc1-a's gauge failure to be reported");
    assert.match(failing.nodes[0].preDrain.gaugeError, /sleep did not finish within 300 ms/);
    // Reported while it waits ("count unknown") or, if the deadline came first, when it is done.
    assert.match(
      failing.nodes[0].detail,
      /(count unknown|unknown number of sessions).*gauge failed: sleep did not finish within 300 ms/,
    );

    const result = await waiting;
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const done = await drainOf(failing.id);
    const preDrain = done.nodes[0].preDrain;
    assert.equal(preDrain.reason, 'deadline');
    // The 30 s hang did not hold it: the pre-drain ended at its 2 s deadline (agent clock).
    assert.ok(preDrain.completedAt - preDrain.deadlineAt < 5000, JSON.stringify(preDrain));
    assert.match(
      done.nodes[0].detail,
      /pre-drain done at its deadline with an unknown number of sessions live/,
    );
    assert.match(result.stdout, /gauge failed: sleep did not finish within 300 ms/);
    assert.equal(route('nyc1-a'), 'withdraw');
    const released = await runCli(['undrain', 'nyc1', '--wait'], operator());
    assert.equal(released.code, 0, released.stderr);
  });
});
