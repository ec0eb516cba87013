/**
 * rollout.yml's drain → change → health → undrain flow and its failure paths, driven by the real
 * ansible-playbook and the compiled `herald` CLI (dist/bin/herald.js) against a real coordinator
 * process and a real `herald agent` per node (ExaBGP's side played by the harness; each proxy a
 * TCP listener the agent's check probes). The playbook's health step polls each agent's real
 * control API (GET /status).
 *
 * The `herald` first in PATH is a recorder: it logs its argv and environment, runs the compiled
 * CLI and passes its output and exit code through unchanged. With the route commands each agent
 * wrote (and their times), that shows the order of drains, changes and undrains, that each change
 * ran while only its own site was withdrawn, and what stays on record after a failure.
 * ansible-rollout-lab.test.ts runs the success path and a policy refusal on real ExaBGP and BIRD.
 */
import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { coordinatorAvailable } from '../../src/lab/coordinator.js';
import { compiledCli } from '../../src/lab/runtime.js';
import {
  AgentProcess,
  CoordinatorProcess,
  HealthTarget,
  PREFIX,
  TOKENS,
  waitFor,
  type Json,
} from '../integration/coordinator/harness.js';
import {
  missing,
  repoRoot,
  requireLab,
  runPlaybook,
  tail,
  tempDir,
  type PlaybookRun,
} from '../unit/ansible/support.js';

function skipReason(): string | false {
  const tools = missing(['ansible-playbook']);
  const reason =
    tools ??
    (coordinatorAvailable()
      ? undefined
      : `the compiled CLI ${compiledCli()} is missing or has no coordinator command (run npm run build)`);
  if (!reason) return false;
  if (requireLab) throw new Error(`${reason} (HERALD_REQUIRE_LAB=1)`);
  return reason;
}

const SITES = [
  { name: 'lon1', region: 'eu', nodes: ['lon1-a', 'lon1-b'] },
  { name: 'ams1', region: 'eu', nodes: ['ams1-a'] },
  { name: 'nyc1', region: 'us', nodes: ['nyc1-a'] },
];
const siteOf = (node: string) => SITES.find((s) => s.nodes.includes(node))!.name;

/** Logs each call, then runs the real compiled CLI; its output and exit code pass through. */
const recorder = (events: string) => `#!/usr/bin/env node
const { appendFileSync } = require('node:fs');
const { spawnSync } = require('node:child_process');
const argv = process.argv.slice(2);
const log = (event) => appendFileSync(${JSON.stringify(events)}, JSON.stringify({ t: Date.now(), ...event }) + '\\n');
log({ cmd: argv[0], site: argv[1], argv, coordinator: process.env.HERALD_COORDINATOR, token: process.env.HERALD_TOKEN });
const run = spawnSync(process.execPath, [${JSON.stringify(compiledCli())}, ...argv], { stdio: 'inherit' });
log({ cmd: argv[0] + ' exited', site: argv[1], code: run.status });
process.exit(run.status ?? 1);
`;

/** The change each node gets: recorded with its time; it kills the agent or fails where the test says. */
const changeTasks = (events: string) => `---
- name: Record that the change ran on this node.
  ansible.builtin.shell: >-
    echo '{"cmd":"change","host":"{{ inventory_hostname }}","t":'"$(date +%s%3N)"'}' >> ${events}
  changed_when: true
- name: Kill the agent on the nodes the test names, as a broken upgrade would.
  ansible.builtin.command:
    argv: [kill, -KILL, "{{ test_agent_pids[inventory_hostname] }}"]
  changed_when: true
  when: inventory_hostname in (test_kill_agent_hosts | default([]))
- name: Fail the change on the nodes the test names.
  ansible.builtin.fail:
    msg: the change failed on {{ inventory_hostname }}
  when: inventory_hostname in (test_fail_hosts | default([]))
`;

interface RolloutEvent {
  t: number;
  cmd: string;
  site?: string;
  host?: string;
  code?: number | null;
  argv?: string[];
  coordinator?: string;
  token?: string;
}

type Route = 'announce' | 'graceful' | 'withdraw';

describe('rollout.yml with the real herald CLI, coordinator and agents', { skip: skipReason() }, () => {
  let dir: string;
  let remove: () => Promise<void>;
  let coordinator: CoordinatorProcess;
  const agents = new Map<string, AgentProcess>();
  const health = new Map<string, HealthTarget>();
  const eventsFile = () => join(dir, 'events.jsonl');
  let version: string;

  async function announcingSites(): Promise<string[]> {
    return ((await coordinator.get('/api/v1/status')).sites as Json[])
      .filter((s) => s.announcing)
      .map((s) => s.name as string);
  }

  /** Every site announcing, every agent announcing, no drain in force: the start of each test. */
  async function settled(): Promise<void> {
    await waitFor(
      async () =>
        (await announcingSites()).length === SITES.length &&
        [...agents.values()].every((a) => a.lastRoute() === 'announce') &&
        (await coordinator.get('/api/v1/drains?status=active')).drains.length === 0,
      'every site to announce with no drain in force',
      30_000,
    );
  }

  /** The route the agent on `node` had last written (and ExaBGP acknowledged) at time `t`. */
  function routeAt(node: string, t: number): Route | null {
    const last = agents
      .get(node)!
      .exabgp!.commands.filter((c) => c.line.includes(PREFIX) && c.at <= t)
      .at(-1)?.line;
    if (!last) return null;
    if (last.includes('withdraw route')) return 'withdraw';
    return last.includes('65535:0') ? 'graceful' : 'announce';
  }

  /** The nodes whose route was away (graceful or withdrawn) at time `t`. */
  const awayAt = (t: number) => [...agents.keys()].filter((node) => routeAt(node, t) !== 'announce').sort();

  before(async () => {
    ({ dir, remove } = await tempDir('herald-rollout-cli-'));
    version = (JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string })
      .version;
    coordinator = new CoordinatorProcess(dir, {
      sites: SITES,
      // Any one site may go, not two (the region floor would refuse the us canary).
      policy: { minAnnouncingSites: 2, regionFloor: false, defaultHold: 300 },
    });
    await coordinator.start();
    for (const site of SITES)
      for (const node of site.nodes) {
        const target = new HealthTarget();
        await target.up();
        health.set(node, target);
        const agent = new AgentProcess(dir, {
          node,
          site: site.name,
          coordinatorUrl: () => coordinator.url,
          health: target,
        });
        agents.set(node, agent);
        await agent.start();
      }
    await writeFile(join(dir, 'herald'), recorder(eventsFile()));
    await chmod(join(dir, 'herald'), 0o755);
    await writeFile(join(dir, 'change.yml'), changeTasks(eventsFile()));
  });

  /** The inventories, with each agent's control API as it is now (a restarted agent has a new port). */
  async function writeInventories(): Promise<void> {
    const controlUrls = new Map<string, string>();
    for (const [node, agent] of agents) controlUrls.set(node, await agent.exabgp!.controlUrl());
    const hostsOf = (nodes: string[]) =>
      Object.fromEntries(
        nodes.map((node) => [node, { herald_rollout_agent_status_url: `${controlUrls.get(node)!}/status` }]),
      );
    const inventory = {
      all: {
        vars: {
          ansible_connection: 'local',
          ansible_python_interpreter: '/usr/bin/python3',
          herald_rollout_change_tasks: join(dir, 'change.yml'),
          herald_rollout_expect_agent_version: version,
          herald_rollout_health_retries: 2,
          herald_rollout_health_delay: 1,
          herald_rollout_drain_timeout: '30s',
          herald_rollout_undrain_timeout: '30s',
          herald_rollout_coordinator_url: coordinator.url,
          herald_rollout_token: TOKENS.alice,
        },
        children: {
          herald_pops: {
            children: Object.fromEntries(
              SITES.map((s) => [
                s.name,
                { vars: { site: s.name, region: s.region }, hosts: hostsOf(s.nodes) },
              ]),
            ),
          },
        },
      },
    };
    await writeFile(join(dir, 'inventory.yml'), JSON.stringify(inventory, null, 2));
    // The same fleet with ams1-a unreachable over SSH (nothing listens on port 1).
    const unreachable = structuredClone(inventory);
    unreachable.all.children.herald_pops.children.ams1!.hosts = {
      'ams1-a': {
        ansible_connection: 'ssh',
        ansible_host: '127.0.0.1',
        ansible_port: 1,
        herald_rollout_agent_status_url: `${controlUrls.get('ams1-a')!}/status`,
      },
    } as never;
    await writeFile(join(dir, 'inventory-unreachable.yml'), JSON.stringify(unreachable, null, 2));
  }

  after(async () => {
    for (const agent of agents.values()) await agent.stop();
    for (const target of health.values()) await target.down();
    await coordinator?.stop();
    await remove?.();
  });

  async function rollout(
    extraVars: Record<string, unknown>,
    options: { inventory?: string; args?: string[]; fromSettled?: boolean } = {},
  ): Promise<{ run: PlaybookRun; events: RolloutEvent[] }> {
    if (options.fromSettled !== false) await settled();
    await writeInventories();
    await writeFile(eventsFile(), '');
    const run = await runPlaybook(
      [
        '-i',
        join(dir, options.inventory ?? 'inventory.yml'),
        'rollout.yml',
        '-e',
        JSON.stringify({ herald_rollout_reason: 'test rollout', ...extraVars }),
        ...(options.args ?? []),
      ],
      { env: { PATH: `${dir}:${process.env.PATH ?? ''}` } },
    );
    const events = (await readFile(eventsFile(), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as RolloutEvent);
    return { run, events };
  }

  /** "drain lon1", "change lon1-a", "undrain lon1", ... in the order they were started. */
  const story = (events: RolloutEvent[]) =>
    events.filter((e) => !e.cmd.endsWith(' exited')).map((e) => `${e.cmd} ${e.site ?? e.host}`);
  const withoutChanges = (events: RolloutEvent[]) => story(events).filter((s) => !s.startsWith('change'));
  /** The real CLI's exit code for each call: "drain lon1 0", ... */
  const exits = (events: RolloutEvent[]) =>
    events.filter((e) => e.cmd.endsWith(' exited')).map((e) => `${e.cmd.split(' ')[0]} ${e.site} ${e.code}`);

  it('drains, changes and restores each site in turn, never two at once, in the order asked for', async () => {
    const { run, events } = await rollout({
      herald_rollout_site_order: ['nyc1'],
      herald_rollout_ticket: 'OPS-42',
    });
    assert.equal(run.code, 0, tail(run.output));
    const steps = story(events);
    let index = 0;
    // Site by site: nyc1 first (the canary asked for), then inventory order.
    for (const site of ['nyc1', 'lon1', 'ams1']) {
      const nodes = SITES.find((s) => s.name === site)!.nodes;
      assert.equal(steps[index], `drain ${site}`, steps.join('\n'));
      assert.deepEqual(
        steps.slice(index + 1, index + 1 + nodes.length).sort(),
        nodes.map((n) => `change ${n}`).sort(),
        steps.join('\n'),
      );
      assert.equal(steps[index + 1 + nodes.length], `undrain ${site}`, steps.join('\n'));
      index += nodes.length + 2;
    }
    assert.equal(steps.length, index, steps.join('\n'));
    assert.deepEqual(exits(events), [
      'drain nyc1 0',
      'undrain nyc1 0',
      'drain lon1 0',
      'undrain lon1 0',
      'drain ams1 0',
      'undrain ams1 0',
    ]);
    for (const event of events) {
      if (event.cmd === 'drain') {
        assert.deepEqual(awayAt(event.t), [], `a route was away when ${event.site} was drained`);
        const argv = event.argv!;
        const flag = (name: string) => argv[argv.indexOf(name) + 1];
        assert.ok(argv.includes('--wait'));
        assert.equal(flag('--reason'), 'test rollout (ansible rollout.yml)');
        assert.equal(flag('--ticket'), 'OPS-42');
        // A drain this rollout would forget is flagged overdue by the coordinator.
        assert.equal(flag('--deadline'), '4h');
      }
      if (event.cmd === 'change')
        // Only this node's site was withdrawn while its change ran.
        assert.deepEqual(
          awayAt(event.t),
          SITES.find((s) => s.name === siteOf(event.host!))!.nodes,
          `routes away while ${event.host} was changed`,
        );
      if (event.cmd === 'drain' || event.cmd === 'undrain') {
        assert.equal(event.coordinator, coordinator.url);
        assert.equal(event.token, TOKENS.alice);
        assert.ok(!event.argv!.join(' ').includes(TOKENS.alice), 'the token must not be on the command line');
      }
    }
    // The coordinator recorded each drain with the reason, ticket and owner, and released it.
    const drains = (await coordinator.get('/api/v1/drains?status=released')).drains as Json[];
    for (const site of ['nyc1', 'lon1', 'ams1'])
      assert.ok(
        drains.some(
          (d) =>
            d.target.site === site &&
            d.ticket === 'OPS-42' &&
            d.owner === 'alice' &&
            d.reason.startsWith('test rollout'),
        ),
        `no released drain of ${site} by alice with ticket OPS-42: ${JSON.stringify(drains)}`,
      );
  });

  it('stops at a policy refusal with the rule printed, leaving nothing of its own drained', async () => {
    // bob holds nyc1 drained: draining lon1 too would leave one announcing site, below the floor of two.
    const bobs = await coordinator.api('POST', '/api/v1/drains', TOKENS.bob, {
      site: 'nyc1',
      reason: 'fibre cut',
    });
    assert.equal(bobs.status, 201, JSON.stringify(bobs.body));
    try {
      await waitFor(async () => !(await announcingSites()).includes('nyc1'), 'nyc1 to be withdrawn');
      const { run, events } = await rollout({}, { fromSettled: false });
      assert.notEqual(run.code, 0);
      assert.match(run.output, /The coordinator refused to drain site lon1/, tail(run.output));
      assert.match(
        run.output,
        /drain of lon1 refused by minAnnouncingSites.*\n.*minAnnouncingSites: draining lon1 would leave 1 site announcing/,
        tail(run.output),
      );
      assert.match(run.output, /this site was not drained and the next sites were not touched/);
      assert.deepEqual(story(events), ['drain lon1']);
      assert.deepEqual(exits(events), ['drain lon1 3'], 'the real CLI exits 3 on a refusal');
      const active = (await coordinator.get('/api/v1/drains?status=active')).drains as Json[];
      assert.deepEqual(
        active.map((d) => `${d.target.site} ${d.owner}`),
        ['nyc1 bob'],
        "only bob's drain is in force",
      );
      assert.deepEqual(awayAt(Date.now()), ['nyc1-a']);
    } finally {
      const released = await coordinator.api(
        'POST',
        `/api/v1/drains/${bobs.body.drain.id as string}/release`,
        TOKENS.bob,
        {},
      );
      assert.equal(released.status, 200, JSON.stringify(released.body));
    }
  });

  it('undrains a site whose change failed on one node, then stops before the next site', async () => {
    const { run, events } = await rollout({ test_fail_hosts: ['lon1-b'] });
    assert.notEqual(run.code, 0);
    assert.match(run.output, /the change failed on lon1-b/);
    assert.match(
      run.output,
      /lon1-b failed or became unreachable at site lon1 .*the rollout stops before the next site/,
    );
    assert.deepEqual(withoutChanges(events), ['drain lon1', 'undrain lon1']);
    assert.deepEqual(exits(events), ['drain lon1 0', 'undrain lon1 0']);
    await settled();
  });

  it('undrains a site whose node never reports healthy, then stops', async () => {
    const target = health.get('nyc1-a')!;
    await target.down();
    try {
      await waitFor(
        () => agents.get('nyc1-a')!.lastRoute() === 'withdraw',
        'nyc1-a to withdraw on failed health',
      );
      const { run, events } = await rollout({ herald_rollout_site_order: ['nyc1'] }, { fromSettled: false });
      assert.notEqual(run.code, 0);
      assert.match(
        run.output,
        /Wait until the agent on each node reports its checks healthy[\s\S]*FAILED - RETRYING/,
      );
      assert.deepEqual(story(events), ['drain nyc1', 'change nyc1-a', 'undrain nyc1']);
      // The release completes: the node is away by its own health, not by the drain.
      assert.deepEqual(exits(events), ['drain nyc1 0', 'undrain nyc1 0']);
      assert.equal((await coordinator.get('/api/v1/drains?status=active')).drains.length, 0);
    } finally {
      await target.up();
    }
  });
  it('stops and tells how to finish by hand when the undrain does not complete (the change killed an agent)', async () => {
    const lon1b = agents.get('lon1-b')!;
    const { run, events } = await rollout({
      herald_rollout_ticket: 'OPS-7',
      herald_rollout_undrain_timeout: '3s',
      test_kill_agent_hosts: ['lon1-b'],
      test_agent_pids: { 'lon1-b': lon1b.exabgp!.child.pid },
    });
    try {
      assert.notEqual(run.code, 0);
      // The killed agent fails the health step; the always: undrain runs and times out on it.
      assert.match(
        run.output,
        /Site lon1 was undrained but did not announce again before the timeout/,
        tail(run.output),
      );
      assert.match(run.output, /ended with exit code 4: .*timed out after 3s: the hold \S+ is released/);
      assert.match(run.output, /reason \\"test rollout \(ansible rollout.yml\)\\", ticket OPS-7/);
      assert.match(run.output, /herald undrain lon1 --wait/);
      assert.deepEqual(withoutChanges(events), ['drain lon1', 'undrain lon1']);
      assert.deepEqual(
        exits(events),
        ['drain lon1 0', 'undrain lon1 4'],
        'the real CLI exits 4 on a timeout',
      );
      // The coordinator keeps the drain's record: released, its release not complete, lon1-b held.
      const drain = ((await coordinator.get('/api/v1/drains?status=released')).drains as Json[]).find(
        (d) => d.target.site === 'lon1' && d.ticket === 'OPS-7',
      );
      assert.ok(drain, 'the drain of lon1 with ticket OPS-7 is on record');
      assert.equal(drain.reason, 'test rollout (ansible rollout.yml)');
      assert.equal(drain.owner, 'alice');
      assert.equal(drain.release.complete, false);
      assert.deepEqual(
        (drain.release.nodes as Json[]).filter((n) => n.stage !== 'returned' || n.stale).map((n) => n.node),
        ['lon1-b'],
      );
    } finally {
      // A fresh agent for lon1-b (on a new control port; the inventories follow it).
      await lon1b.stop();
      await lon1b.start();
    }
  });

  it('undrains a site whose only node becomes unreachable during the change, then stops', async () => {
    const { run, events } = await rollout({}, { inventory: 'inventory-unreachable.yml' });
    assert.notEqual(run.code, 0, tail(run.output));
    assert.match(run.output, /ams1-a\]: UNREACHABLE!/);
    assert.match(run.output, /ams1-a failed or became unreachable at site ams1/);
    assert.deepEqual(withoutChanges(events), ['drain lon1', 'undrain lon1', 'drain ams1', 'undrain ams1']);
    assert.deepEqual(exits(events), ['drain lon1 0', 'undrain lon1 0', 'drain ams1 0', 'undrain ams1 0']);
    assert.ok(!story(events).includes('change ams1-a'), story(events).join('\n'));
    await settled();
  });

  it('rolls out only the sites a --limit by site group names, and refuses a limit by node names', async () => {
    const bySite = await rollout({}, { args: ['--limit', 'lon1,nyc1'] });
    assert.equal(bySite.run.code, 0, tail(bySite.run.output));
    assert.deepEqual(withoutChanges(bySite.events), [
      'drain lon1',
      'undrain lon1',
      'drain nyc1',
      'undrain nyc1',
    ]);
    assert.deepEqual(exits(bySite.events), [
      'drain lon1 0',
      'undrain lon1 0',
      'drain nyc1 0',
      'undrain nyc1 0',
    ]);
    const byNode = await rollout({}, { args: ['--limit', 'lon1-a'] });
    assert.notEqual(byNode.run.code, 0);
    assert.match(byNode.run.output, /limit by site groups/);
    assert.deepEqual(byNode.events, [], 'herald was not called: nothing was drained');
  });
});
