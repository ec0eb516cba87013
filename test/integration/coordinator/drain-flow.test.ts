/**
 * The coordinator end to end with real processes: `herald coordinator`, four `herald agent`s
 * (ExaBGP's side played by the harness, health from TCP listeners the test
 * opens and closes) and the `herald` CLI. Fleet: lon1 (eu, two nodes), fra1 (eu), nyc1 (us);
 * floor 2 sites, never the last site of a region.
 */
import assert from 'node:assert/strict';
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
  { name: 'lon1', region: 'eu', nodes: ['lon1-a', 'lon1-b'] },
  { name: 'fra1', region: 'eu', nodes: ['fra1-a'] },
  { name: 'nyc1', region: 'us', nodes: ['nyc1-a'] },
];

describe('coordinator with real agents', () => {
  const tmp = tempDir('herald-coord-');
  const coordinator = new CoordinatorProcess(tmp.dir, {
    sites,
    policy: {
      minAnnouncingSites: 2,
      regionFloor: true,
      maxConcurrentDrains: 2,
      maxConcurrentDrainsPerRegion: 1,
    },
  });
  const health = new Map<string, HealthTarget>();
  const agents = new Map<string, AgentProcess>();
  const alice = () => ({ url: coordinator.url, token: TOKENS.alice });
  const bob = () => ({ url: coordinator.url, token: TOKENS.bob });
  const agent = (node: string) => agents.get(node)!;

  async function status(): Promise<Json> {
    return coordinator.get('/api/v1/status');
  }

  async function announcingSites(): Promise<string[]> {
    return (await status()).sites.filter((s: Json) => s.announcing).map((s: Json) => s.name);
  }

  async function activeDrains(): Promise<Json[]> {
    return (await coordinator.get('/api/v1/drains?status=active')).drains;
  }

  /** Waits until the agent's last acknowledged route command is `route`. */
  function routeIs(node: string, route: 'announce' | 'graceful' | 'withdraw', timeoutMs = 20_000) {
    return waitFor(() => agent(node).lastRoute() === route, `${node} to ${route}`, timeoutMs);
  }

  async function allAnnouncing(): Promise<void> {
    await waitFor(async () => (await announcingSites()).length === 3, 'every site to announce', 30_000);
  }

  before(async () => {
    await coordinator.start();
    for (const site of sites)
      for (const node of site.nodes) {
        const target = new HealthTarget();
        await target.up();
        health.set(node, target);
        const process = new AgentProcess(tmp.dir, {
          node,
          site: site.name,
          coordinatorUrl: () => coordinator.url,
          health: target,
        });
        agents.set(node, process);
        await process.start();
      }
    await allAnnouncing();
  });

  after(async () => {
    for (const a of agents.values()) await a.stop();
    await coordinator.stop();
    for (const h of health.values()) await h.down();
    tmp.remove();
  });

  it('refuses unauthenticated, unknown-token, wrong-role and invalid requests', async () => {
    assert.equal((await coordinator.api('GET', '/api/v1/status', null)).status, 401);
    assert.equal((await coordinator.api('GET', '/api/v1/status', 'not-a-known-token-at-all')).status, 401);
    const viewerDrain = await coordinator.api('POST', '/api/v1/drains', TOKENS.viewer, {
      site: 'lon1',
      reason: 'nope',
    });
    assert.equal(viewerDrain.status, 403);
    assert.match(viewerDrain.body.error.message, /role operator/);
    // An agent token may only speak for its own node, and may not read the fleet.
    assert.equal((await coordinator.api('GET', '/api/v1/status', TOKENS.agent('lon1-a'))).status, 403);
    const other = await coordinator.api('POST', '/api/v1/agents/fra1-a/report', TOKENS.agent('lon1-a'), {});
    assert.equal(other.status, 403);
    const invalid = await coordinator.api('POST', '/api/v1/drains', TOKENS.alice, {
      site: 'lon1',
      hold: 'soon',
      override: [],
    });
    assert.equal(invalid.status, 400);
    assert.deepEqual([...invalid.body.error.problems].sort(), [
      'hold: expected a duration such as "200ms", "1s" or "5m", received "soon"',
      'override: expected no such field, received an array of 0',
      'reason: expected string, received nothing',
    ]);
    // A wrong type in a union-typed field (a duration: a string or milliseconds) is named with its value.
    const wrongType = await coordinator.api('POST', '/api/v1/drains', TOKENS.alice, {
      site: 'lon1',
      reason: 'x y z',
      hold: true,
    });
    assert.equal(wrongType.status, 400);
    assert.deepEqual(wrongType.body.error.problems, [
      'hold: expected a duration such as "200ms", "1s" or "5m", or milliseconds, received true (boolean)',
    ]);
    const unknownSite = await coordinator.api('POST', '/api/v1/drains', TOKENS.alice, {
      site: 'par1',
      reason: 'x y z',
    });
    assert.equal(unknownSite.status, 400);
    assert.match(
      unknownSite.body.error.problems[0],
      /^site: expected one of lon1, fra1, nyc1, received "par1"/,
    );
    // The CLI maps these to exit codes: 2 for a bad token, 1 for a forbidden role.
    const badToken = await runCli(['status'], { url: coordinator.url, token: 'not-a-known-token-at-all' });
    assert.equal(badToken.code, 2, badToken.stderr);
    const forbidden = await runCli(['drain', 'lon1', '--reason', 'viewer tries'], {
      url: coordinator.url,
      token: TOKENS.viewer,
    });
    assert.equal(forbidden.code, 1, forbidden.stderr);
    assert.deepEqual(await activeDrains(), []);
  });

  it('drain --wait returns only once every node of the site acknowledged the withdraw; undrain brings it back', async () => {
    const drained = await runCli(
      ['drain', 'lon1', '--reason', 'kernel upgrade', '--ticket', 'CHG-1', '--wait'],
      alice(),
    );
    assert.equal(drained.code, 0, drained.stdout + drained.stderr);
    // At the moment --wait returned, both nodes' last acknowledged command is the withdraw,
    // after a GRACEFUL_SHUTDOWN re-announce.
    for (const node of ['lon1-a', 'lon1-b']) {
      assert.equal(agent(node).lastRoute(), 'withdraw', `${node}: ${agent(node).routeHistory().join(' ')}`);
      const history = agent(node).routeHistory();
      assert.ok(history.lastIndexOf('graceful') < history.lastIndexOf('withdraw'));
    }
    assert.match(drained.stdout, /complete: every node of lon1 withdrawn/);
    const [drain] = await activeDrains();
    assert.equal(drain.owner, 'alice');
    assert.equal(drain.ticket, 'CHG-1');
    assert.deepEqual(
      drain.nodes.map((n: Json) => n.stage),
      ['withdrawn', 'withdrawn'],
    );
    assert.ok(!(await announcingSites()).includes('lon1'));
    // Untouched sites kept announcing throughout.
    assert.equal(agent('fra1-a').lastRoute(), 'announce');

    const released = await runCli(['undrain', 'lon1', '--wait'], alice());
    assert.equal(released.code, 0, released.stdout + released.stderr);
    await routeIs('lon1-a', 'announce', 5000);
    await routeIs('lon1-b', 'announce', 5000);
    const audit = (await coordinator.get(`/api/v1/audit?drain=${drain.id}&limit=100`)).entries.map(
      (e: Json) => e.action,
    );
    for (const action of ['drain.requested', 'drain.step', 'drain.completed', 'drain.released'])
      assert.ok(audit.includes(action), `audit has ${action}: ${audit.join(', ')}`);
  });

  it('refuses a drain at the floor naming every rule, and changes nothing (dry run too)', async () => {
    await health.get('fra1-a')!.down(); // fra1 withdraws for health: it counts toward the floors
    await routeIs('fra1-a', 'withdraw');
    await waitFor(async () => !(await announcingSites()).includes('fra1'), 'fra1 to stop announcing');
    const auditBefore = (await coordinator.get('/api/v1/audit?action=drain.refused')).entries.length;

    const dry = await runCli(['drain', 'lon1', '--reason', 'would break the floor', '--dry-run'], alice());
    assert.equal(dry.code, 3, dry.stdout + dry.stderr);
    assert.match(dry.stdout, /would be refused/);
    assert.match(dry.stdout, /✗ minAnnouncingSites: .*fra1 \(withdrawn by health\)/);
    assert.match(dry.stdout, /✗ regionFloor: lon1 is the last site of region eu/);
    assert.equal((await coordinator.get('/api/v1/audit?action=drain.refused')).entries.length, auditBefore);

    const refused = await runCli(['drain', 'lon1', '--reason', 'would break the floor'], alice());
    assert.equal(refused.code, 3, refused.stdout + refused.stderr);
    assert.match(refused.stderr, /refused by minAnnouncingSites, regionFloor; nothing changed/);
    assert.match(refused.stderr, /Waiting could help/);
    const json = await runCli(['drain', 'lon1', '--reason', 'would break the floor', '--json'], alice());
    assert.equal(json.code, 3);
    assert.deepEqual(
      JSON.parse(json.stdout).error.rules.map((r: Json) => r.rule),
      ['minAnnouncingSites', 'regionFloor'],
    );

    assert.deepEqual(await activeDrains(), []);
    assert.equal(agent('lon1-a').lastRoute(), 'announce');
    assert.equal(agent('lon1-b').lastRoute(), 'announce');
    const refusals = (await coordinator.get('/api/v1/audit?action=drain.refused')).entries;
    assert.equal(refusals.length, auditBefore + 2);
    assert.equal(refusals[0].actor, 'alice');
    assert.equal(refusals[0].reason, 'would break the floor');

    await health.get('fra1-a')!.up();
    await allAnnouncing();
  });

  it("stacks two owners' holds: the site returns only when both are released", async () => {
    const first = await runCli(['drain', 'fra1', '--reason', 'alice: router swap', '--wait'], alice());
    assert.equal(first.code, 0, first.stdout + first.stderr);
    const second = await runCli(['drain', 'fra1', '--reason', 'bob: fiber work'], bob());
    assert.equal(second.code, 0, second.stdout + second.stderr);
    assert.match(second.stdout, /also held by: d-\w+ \(alice\)/);
    const holds = await activeDrains();
    assert.deepEqual(holds.map((d: Json) => d.owner).sort(), ['alice', 'bob']);
    const bobs = holds.find((d: Json) => d.owner === 'bob').id;

    const aliceOut = await runCli(['undrain', 'fra1', '--wait'], alice());
    assert.equal(aliceOut.code, 0, aliceOut.stdout + aliceOut.stderr);
    assert.match(aliceOut.stdout, new RegExp(`fra1 stays drained by: ${bobs} by bob`));
    // The agent dropped alice's hold but keeps bob's: still withdrawn.
    await waitFor(async () => {
      const node = (await status()).sites.find((s: Json) => s.name === 'fra1').nodes[0];
      return node.drains.length === 1 && node.drains[0] === bobs;
    }, "fra1-a to hold only bob's drain");
    assert.equal(agent('fra1-a').lastRoute(), 'withdraw');
    // undrain without a hold of one's own releases nothing.
    const again = await runCli(['undrain', 'fra1'], alice());
    assert.equal(again.code, 0);
    assert.match(again.stdout, /nothing to release.*Other holds on fra1: d-\w+ by bob/);
    assert.equal(agent('fra1-a').lastRoute(), 'withdraw');

    const bobOut = await runCli(['undrain', 'fra1', '--wait'], bob());
    assert.equal(bobOut.code, 0, bobOut.stdout + bobOut.stderr);
    await routeIs('fra1-a', 'announce', 5000);
    assert.deepEqual(await activeDrains(), []);
  });

  it('a maintenance window drains at its start, is flagged overdue at its end, and auto-releases once healthy', async () => {
    // Far enough ahead that the CLI (a fresh Node process) is surely done adding the window.
    const start = new Date(Date.now() + 8000);
    const cron = `${start.getUTCSeconds()} ${start.getUTCMinutes()} ${start.getUTCHours()} * * *`;
    const added = await runCli(
      [
        'maintenance',
        'add',
        'lon1',
        '--node',
        'lon1-b',
        '--cron',
        cron,
        '--timezone',
        'UTC',
        '--duration',
        '3s',
        '--reason',
        'disk swap',
        '--auto-release',
        '--json',
      ],
      alice(),
    );
    assert.equal(added.code, 0, added.stdout + added.stderr);
    const window = JSON.parse(added.stdout);
    assert.equal(window.nextStartAt, Math.floor(start.getTime() / 1000) * 1000);
    assert.equal(agent('lon1-b').lastRoute(), 'announce');

    await routeIs('lon1-b', 'withdraw', 15_000);
    assert.ok(Date.now() >= window.nextStartAt, 'not before the window starts');
    assert.equal(agent('lon1-a').lastRoute(), 'announce');
    await routeIs('lon1-b', 'announce', 15_000);

    const entries = (await coordinator.get(`/api/v1/audit?window=${window.id}`)).entries.reverse();
    const actions = entries.map((e: Json) => e.action);
    assert.deepEqual(
      actions.filter((a: string) =>
        ['window.added', 'window.started', 'window.ended', 'drain.overdue', 'drain.released'].includes(a),
      ),
      ['window.added', 'window.started', 'window.ended', 'drain.overdue', 'drain.released'],
    );
    const release = entries.find((e: Json) => e.action === 'drain.released');
    assert.equal(release.actor, `window:${window.id}`);
    const drain = await coordinator.get(`/api/v1/drains/${release.drainId}`);
    assert.equal(drain.overdue, true);
    assert.equal(drain.status, 'released');

    const list = await runCli(['maintenance', 'list'], alice());
    assert.match(list.stdout, new RegExp(`${window.id} .*lon1/lon1-b`));
    const removed = await runCli(['maintenance', 'remove', window.id], alice());
    assert.equal(removed.code, 0, removed.stderr);
    assert.deepEqual((await coordinator.get('/api/v1/windows')).windows, []);
  });

  it('marks an agent stale when it stops reporting, and fresh again when it returns', async () => {
    await agent('nyc1-a').stop();
    await waitFor(
      async () => (await status()).sites.find((s: Json) => s.name === 'nyc1').nodes[0].stale,
      'nyc1-a stale',
      10_000,
    );
    assert.ok(!(await announcingSites()).includes('nyc1'), 'a stale node does not count as announcing');
    await agent('nyc1-a').start();
    await allAnnouncing();
  });

  it('a drain resumes from the store when the coordinator is killed mid-drain and restarted', async () => {
    const waiting = runCli(
      ['drain', 'lon1', '--reason', 'resume test', '--hold', '3s', '--wait', '--timeout', '60s'],
      alice(),
    );
    await routeIs('lon1-a', 'graceful');
    const [before] = await activeDrains();
    assert.equal(
      before.nodes.some((n: Json) => n.stage === 'withdrawn'),
      false,
      'killed before the withdraw',
    );
    await coordinator.kill9();
    await coordinator.start();
    const result = await waiting;
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const [after] = await activeDrains();
    assert.equal(after.id, before.id);
    assert.equal(after.complete, true);
    assert.equal(agent('lon1-a').lastRoute(), 'withdraw');
    assert.equal(agent('lon1-b').lastRoute(), 'withdraw');
    const released = await runCli(['undrain', 'lon1', '--wait'], alice());
    assert.equal(released.code, 0, released.stdout + released.stderr);
    await allAnnouncing();
  });

  it('while the coordinator is down, agents follow local health and a stored drain stays in force', async () => {
    const drained = await runCli(
      ['drain', 'lon1', '--node', 'lon1-a', '--reason', 'stays drained', '--wait'],
      alice(),
    );
    assert.equal(drained.code, 0, drained.stdout + drained.stderr);
    await coordinator.kill9();

    // Local health still rules: nyc1-a withdraws when its proxy fails and announces when it returns.
    await health.get('nyc1-a')!.down();
    await routeIs('nyc1-a', 'withdraw');
    await health.get('nyc1-a')!.up();
    await routeIs('nyc1-a', 'announce');
    // The drained node stays withdrawn, even across a restart of its agent.
    await agent('lon1-a').stop();
    await agent('lon1-a').start();
    // Wait until the restarted agent found its proxy healthy: without the stored drain it would announce now.
    const control = await agent('lon1-a').exabgp!.controlUrl();
    const local = await waitFor(async () => {
      const s = (await (await fetch(`${control}/status`)).json()) as Json;
      // acknowledged: the player has recorded (and answered) the withdraw, so the history below is complete.
      return s.healthy === true && s.checks[0].status === 'up' && s.prefixes[0].acknowledged === 'withdraw'
        ? s
        : undefined;
    }, 'the restarted lon1-a to find its proxy healthy and its withdraw acknowledged');
    assert.equal(local.state, 'DRAINED');
    assert.deepEqual(local.coordinator, { connected: false, lastContactAt: null });
    assert.deepEqual([...new Set(agent('lon1-a').routeHistory())], ['withdraw']);
    assert.equal(agent('lon1-b').lastRoute(), 'announce');

    await coordinator.start();
    // Agents that failed to reach it for a while back off (jittered, up to 15 s) before retrying.
    await waitFor(
      async () => (await status()).sites.every((s: Json) => s.nodes.every((n: Json) => n.connected)),
      'agents to reconnect',
      45_000,
    );
    const [drain] = await activeDrains();
    assert.equal(drain.target.node, 'lon1-a');
    const released = await runCli(['undrain', 'lon1', '--node', 'lon1-a', '--wait'], alice());
    assert.equal(released.code, 0, released.stdout + released.stderr);
    await routeIs('lon1-a', 'announce', 5000);
  });
});
