/**
 * rollout.yml's drain → change → health → undrain flow, driven by the real ansible-playbook
 * against a STUB `herald` placed first in PATH and a stub agent status endpoint. The stub keeps
 * drains in a state file and logs every call, so the order of drains, changes and undrains, the
 * one-site-at-a-time rule and what is left drained after a failure can be checked. This proves
 * the playbook's logic only: ansible-rollout-lab.test.ts drives the real coordinator and agents.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  missing,
  requireLab,
  runPlaybook,
  tail,
  tempDir,
  type PlaybookRun,
} from '../unit/ansible/support.js';

const skipReason = missing(['ansible-playbook']);
if (skipReason && requireLab) throw new Error(`${skipReason} (HERALD_REQUIRE_LAB=1)`);

const STUB_HERALD = `#!/usr/bin/env node
// Stub of the herald CLI for rollout.yml tests (not the real coordinator).
const fs = require('node:fs');
const dir = process.env.HERALD_STUB_DIR;
const stateFile = dir + '/state.json';
const log = (event) => fs.appendFileSync(dir + '/events.jsonl', JSON.stringify({ t: Date.now(), ...event }) + '\\n');
const state = fs.existsSync(stateFile) ? JSON.parse(fs.readFileSync(stateFile, 'utf8')) : { drained: [] };
const save = () => fs.writeFileSync(stateFile, JSON.stringify(state));
const [cmd, site, ...rest] = process.argv.slice(2);
const opt = (name) => { const i = rest.indexOf(name); return i >= 0 ? rest[i + 1] : undefined; };
const list = (name) => (process.env[name] || '').split(',').filter(Boolean);
const env = { coordinator: process.env.HERALD_COORDINATOR, token: process.env.HERALD_TOKEN, argv: process.argv.slice(2) };
if (cmd === 'drain') {
  log({ cmd, site, reason: opt('--reason'), ticket: opt('--ticket'), wait: rest.includes('--wait'), ...env, drainedBefore: state.drained });
  if (list('HERALD_STUB_REFUSE').includes(site)) {
    process.stderr.write('herald: drain of ' + site + ' refused by policy:\\n  region-floor: ' + site + ' is the last announcing site of its region (retrying will not help)\\n');
    process.exit(3);
  }
  state.drained.push(site); save();
  process.stdout.write(site + ': drained (withdrawal verified)\\n');
  process.exit(0);
} else if (cmd === 'undrain') {
  log({ cmd, site, wait: rest.includes('--wait'), ...env, drainedBefore: state.drained });
  if (list('HERALD_STUB_FAIL_UNDRAIN').includes(site)) { process.stderr.write('herald: ' + site + ' did not announce within the timeout\\n'); process.exit(4); }
  if (!state.drained.includes(site)) { process.stderr.write('herald: ' + site + ' has no drain of yours\\n'); process.exit(1); }
  state.drained = state.drained.filter((s) => s !== site); save();
  process.stdout.write(site + ': announcing again\\n');
  process.exit(0);
} else if (cmd === '_event') {
  log({ cmd: site, host: rest[0], drainedNow: state.drained });
  process.exit(0);
}
process.stderr.write('stub herald: unknown command ' + cmd + '\\n');
process.exit(2);
`;

/** The change each node gets: record it (with what was drained at that moment), or fail when told. */
const CHANGE_TASKS = `---
- name: Record that the change ran on this node.
  ansible.builtin.command:
    argv: [herald, _event, change, "{{ inventory_hostname }}"]
  changed_when: true
- name: Fail the change on the nodes the test names.
  ansible.builtin.fail:
    msg: the change failed on {{ inventory_hostname }}
  when: inventory_hostname in (stub_fail_hosts | default([]))
`;

const SITES: Record<string, { region: string; hosts: string[] }> = {
  lon1: { region: 'eu', hosts: ['lon1-a', 'lon1-b'] },
  ams1: { region: 'eu', hosts: ['ams1-a'] },
  nyc1: { region: 'us', hosts: ['nyc1-a'] },
};

interface StubEvent {
  t: number;
  cmd: string;
  site?: string;
  host?: string;
  reason?: string;
  ticket?: string;
  wait?: boolean;
  coordinator?: string;
  token?: string;
  argv?: string[];
  drainedBefore?: string[];
  drainedNow?: string[];
}

interface StatusPoll {
  node: string;
  drained: string[];
}

describe(
  'rollout.yml against a stub herald (playbook logic only; not the real coordinator)',
  {
    skip: skipReason ?? false,
  },
  () => {
    let dir: string;
    let remove: () => Promise<void>;
    let server: Server;
    let unhealthy = new Set<string>();
    let polls: StatusPoll[] = [];

    before(async () => {
      ({ dir, remove } = await tempDir('herald-rollout-stub-'));
      await writeFile(join(dir, 'herald'), STUB_HERALD);
      await chmod(join(dir, 'herald'), 0o755);
      await writeFile(join(dir, 'change.yml'), CHANGE_TASKS);
      // The agents' GET /status: healthy unless the test says otherwise; each poll is recorded
      // with what the stub coordinator had drained at that moment.
      server = createServer((request, response) => {
        const node = (request.url ?? '').split('/').pop() ?? '';
        const stateFile = join(dir, 'state.json');
        const drained = existsSync(stateFile)
          ? (JSON.parse(readFileSync(stateFile, 'utf8')) as { drained: string[] }).drained
          : [];
        polls.push({ node, drained });
        response.setHeader('content-type', 'application/json');
        response.end(
          JSON.stringify({ node, healthy: !unhealthy.has(node), version: '9.9.9', state: 'DRAINED' }),
        );
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as AddressInfo).port;
      const children = Object.fromEntries(
        Object.entries(SITES).map(([site, { region, hosts }]) => [
          site,
          { vars: { site, region }, hosts: Object.fromEntries(hosts.map((h) => [h, {}])) },
        ]),
      );
      const inventory = {
        all: {
          vars: {
            ansible_connection: 'local',
            ansible_python_interpreter: '/usr/bin/python3',
            herald_rollout_change_tasks: join(dir, 'change.yml'),
            herald_rollout_agent_status_url: `http://127.0.0.1:${port}/status/{{ inventory_hostname }}`,
            herald_rollout_expect_agent_version: '9.9.9',
            herald_rollout_health_retries: 2,
            herald_rollout_health_delay: 1,
            herald_rollout_coordinator_url: 'http://coordinator.test:9180',
            herald_rollout_token: 'operator-secret-token-0123456789',
          },
          children: { herald_pops: { children } },
        },
      };
      await writeFile(join(dir, 'inventory.yml'), JSON.stringify(inventory, null, 2));
      // The same fleet with ams1-a unreachable (nothing listens on port 1).
      const unreachable = structuredClone(inventory);
      unreachable.all.children.herald_pops.children.ams1!.hosts = {
        'ams1-a': { ansible_connection: 'ssh', ansible_host: '127.0.0.1', ansible_port: 1 },
      };
      await writeFile(join(dir, 'inventory-unreachable.yml'), JSON.stringify(unreachable, null, 2));
    });

    after(async () => {
      await new Promise<void>((resolve) => server?.close(() => resolve()));
      await remove?.();
    });

    async function rollout(
      extraVars: Record<string, unknown>,
      stubEnv: Record<string, string> = {},
      options: { inventory?: string; args?: string[] } = {},
    ): Promise<{ run: PlaybookRun; events: StubEvent[]; drainedAtEnd: string[] }> {
      for (const name of ['state.json', 'events.jsonl'])
        await writeFile(join(dir, name), name === 'state.json' ? '{"drained":[]}' : '');
      polls = [];
      const run = await runPlaybook(
        [
          '-i',
          join(dir, options.inventory ?? 'inventory.yml'),
          'rollout.yml',
          '-e',
          JSON.stringify({ herald_rollout_reason: 'test rollout', ...extraVars }),
          ...(options.args ?? []),
        ],
        { env: { PATH: `${dir}:${process.env.PATH ?? ''}`, HERALD_STUB_DIR: dir, ...stubEnv } },
      );
      const events = (await readFile(join(dir, 'events.jsonl'), 'utf8'))
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as StubEvent);
      const drainedAtEnd = (
        JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as { drained: string[] }
      ).drained;
      return { run, events, drainedAtEnd };
    }

    /** "drain lon1", "change lon1-a", ... in the order they happened. */
    const story = (events: StubEvent[]) => events.map((e) => `${e.cmd} ${e.site ?? e.host}`);

    it('drains, changes and restores each site in turn, never two at once, in the order asked for', async () => {
      const { run, events, drainedAtEnd } = await rollout({
        herald_rollout_site_order: ['nyc1'],
        herald_rollout_ticket: 'OPS-42',
      });
      assert.equal(run.code, 0, tail(run.output));
      const changes = (site: string) => SITES[site]!.hosts.map((h) => `change ${h}`).sort();
      const steps = story(events);
      // Site by site: nyc1 first (the canary asked for), then inventory order.
      let index = 0;
      for (const site of ['nyc1', 'lon1', 'ams1']) {
        assert.equal(steps[index], `drain ${site}`, steps.join('\n'));
        const nodes = SITES[site]!.hosts.length;
        assert.deepEqual(steps.slice(index + 1, index + 1 + nodes).sort(), changes(site), steps.join('\n'));
        assert.equal(steps[index + 1 + nodes], `undrain ${site}`, steps.join('\n'));
        index += nodes + 2;
      }
      assert.equal(steps.length, index);
      for (const event of events) {
        if (event.cmd === 'drain') {
          assert.deepEqual(
            event.drainedBefore,
            [],
            `another site was drained when ${event.site} was: ${JSON.stringify(event)}`,
          );
          assert.equal(event.wait, true);
          assert.match(event.reason ?? '', /^test rollout/);
          assert.equal(event.ticket, 'OPS-42');
          // A drain this rollout would forget is flagged overdue by the coordinator.
          assert.deepEqual(
            event.argv!.slice(event.argv!.indexOf('--deadline'), event.argv!.indexOf('--deadline') + 2),
            ['--deadline', '4h'],
          );
        }
        if (event.cmd === 'change') assert.deepEqual(event.drainedNow, [event.host!.replace(/-\w+$/, '')]);
        if (event.cmd === 'drain' || event.cmd === 'undrain') {
          assert.equal(event.coordinator, 'http://coordinator.test:9180');
          assert.equal(event.token, 'operator-secret-token-0123456789');
          assert.ok(
            !event.argv!.join(' ').includes('operator-secret'),
            'the token must not be on the command line',
          );
        }
      }
      // Each node's health was checked while its own site was still drained.
      for (const [site, { hosts }] of Object.entries(SITES))
        for (const host of hosts)
          assert.ok(
            polls.some((p) => p.node === host && p.drained.join() === site),
            `no health poll of ${host} while ${site} was drained: ${JSON.stringify(polls)}`,
          );
      assert.deepEqual(drainedAtEnd, []);
    });

    it('stops at a policy refusal with the rule printed, leaving nothing drained and later sites untouched', async () => {
      const { run, events, drainedAtEnd } = await rollout({}, { HERALD_STUB_REFUSE: 'ams1' });
      assert.notEqual(run.code, 0);
      assert.match(run.output, /The coordinator refused to drain site ams1/);
      assert.match(run.output, /region-floor: ams1 is the last announcing site of its region/);
      assert.match(run.output, /this site was not drained and the next sites were not touched/);
      const steps = story(events);
      assert.deepEqual(
        steps.filter((s) => !s.startsWith('change')),
        ['drain lon1', 'undrain lon1', 'drain ams1'],
      );
      assert.ok(!steps.some((s) => s.includes('nyc1') || s === 'change ams1-a'), steps.join('\n'));
      assert.deepEqual(drainedAtEnd, []);
    });

    it('undrains a site whose change failed on one node, then stops before the next site', async () => {
      const { run, events, drainedAtEnd } = await rollout({ stub_fail_hosts: ['lon1-b'] });
      assert.notEqual(run.code, 0);
      assert.match(run.output, /the change failed on lon1-b/);
      assert.match(
        run.output,
        /lon1-b failed or became unreachable at site lon1 .*the rollout stops before the next site/,
      );
      const steps = story(events);
      assert.deepEqual(
        steps.filter((s) => !s.startsWith('change')),
        ['drain lon1', 'undrain lon1'],
      );
      assert.deepEqual(drainedAtEnd, []);
    });

    it('undrains a site whose node never reports healthy, then stops', async () => {
      unhealthy = new Set(['nyc1-a']);
      try {
        const { run, events, drainedAtEnd } = await rollout({ herald_rollout_site_order: ['nyc1'] });
        assert.notEqual(run.code, 0);
        assert.match(
          run.output,
          /Wait until the agent on each node reports its checks healthy[\s\S]*FAILED - RETRYING/,
        );
        assert.deepEqual(story(events), ['drain nyc1', 'change nyc1-a', 'undrain nyc1']);
        assert.deepEqual(drainedAtEnd, []);
      } finally {
        unhealthy = new Set();
      }
    });

    it('stops and tells how to finish by hand when the undrain does not complete', async () => {
      const { run, events, drainedAtEnd } = await rollout(
        { herald_rollout_ticket: 'OPS-7' },
        { HERALD_STUB_FAIL_UNDRAIN: 'lon1' },
      );
      assert.notEqual(run.code, 0);
      assert.match(run.output, /Site lon1 was undrained but did not announce again before the timeout/);
      assert.match(run.output, /reason \\"test rollout \(ansible rollout.yml\)\\", ticket OPS-7/);
      assert.match(run.output, /herald undrain lon1 --wait/);
      const steps = story(events);
      assert.deepEqual(
        steps.filter((s) => !s.startsWith('change')),
        ['drain lon1', 'undrain lon1'],
      );
      assert.deepEqual(drainedAtEnd, ['lon1'], 'the stub coordinator still holds the drain, with its record');
    });

    it('undrains a site whose only node becomes unreachable during the change, then stops', async () => {
      const { run, events, drainedAtEnd } = await rollout({}, {}, { inventory: 'inventory-unreachable.yml' });
      assert.notEqual(run.code, 0, tail(run.output));
      assert.match(run.output, /ams1-a\]: UNREACHABLE!/);
      assert.match(run.output, /ams1-a failed or became unreachable at site ams1/);
      const steps = story(events);
      assert.deepEqual(
        steps.filter((s) => !s.startsWith('change')),
        ['drain lon1', 'undrain lon1', 'drain ams1', 'undrain ams1'],
      );
      assert.deepEqual(drainedAtEnd, []);
    });

    it('rolls out only the sites a --limit by site group names, and refuses a limit by node names', async () => {
      const bySite = await rollout({}, {}, { args: ['--limit', 'lon1,nyc1'] });
      assert.equal(bySite.run.code, 0, tail(bySite.run.output));
      assert.deepEqual(
        story(bySite.events).filter((s) => !s.startsWith('change')),
        ['drain lon1', 'undrain lon1', 'drain nyc1', 'undrain nyc1'],
      );
      const byNode = await rollout({}, {}, { args: ['--limit', 'lon1-a'] });
      assert.notEqual(byNode.run.code, 0);
      assert.match(byNode.run.output, /limit by site groups/);
      assert.deepEqual(byNode.events, [], 'nothing was drained');
    });
  },
);
