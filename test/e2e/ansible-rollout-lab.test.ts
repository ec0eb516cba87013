/**
 * rollout.yml against the real thing: the lab's failover topology (lon1 and ams1 in eu, nyc1 in
 * us; one node each, Kamailio + ExaBGP + `herald agent`, BIRD routers), herald's coordinator on
 * the host, and the compiled `herald` CLI first in PATH. The change on each node restarts its
 * agent (SIGTERM; ExaBGP respawns it), as the herald_agent role's handler does after an upgrade.
 *
 * The coordinator's policy keeps the last site of a region announcing, so the rollout drains,
 * changes and restores lon1 then ams1, and stops at nyc1 with the rule printed. Meanwhile the
 * routers are polled: never more than one site may be missing, and at the end every site
 * announces again.
 */
import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { agentPids } from '../../src/lab/daemons.js';
import { nodeOf } from '../../src/lab/context.js';
import { controlUrl } from '../../src/lab/agent-control.js';
import { coordinatorAvailable, heraldCoordinator, operatorTokenFile } from '../../src/lab/coordinator.js';
import type { Lab } from '../../src/lab/lab.js';
import { announcingSites, describeSnapshot } from '../../src/lab/route-observer.js';
import { compiledCli } from '../../src/lab/runtime.js';
import { failoverTopology } from '../../src/lab/topology.js';
import { labSkip, noteOutcome, releaseTestLab, startTestLab } from '../support/lab.js';
import { missing, repoRoot, requireLab, runPlaybook, tail, tempDir } from '../unit/ansible/support.js';

function skipReason(): string | false {
  const lab = labSkip({ needsAgent: true });
  if (lab) return lab;
  const tools = missing(['ansible-playbook']);
  if (tools) {
    if (requireLab) throw new Error(`${tools} (HERALD_REQUIRE_LAB=1)`);
    return tools;
  }
  if (!coordinatorAvailable()) {
    if (requireLab)
      throw new Error(`the compiled CLI ${compiledCli()} has no coordinator (HERALD_REQUIRE_LAB=1)`);
    return `the compiled CLI ${compiledCli()} has no coordinator command (run npm run build)`;
  }
  return false;
}

interface Observation {
  at: number;
  announcing: string[];
  text: string;
}

const CHANGE_TASKS = `---
- name: Restart the herald agent on the node, as the herald_agent role's handler does after an upgrade.
  ansible.builtin.command:
    argv: [pkill, --signal, TERM, --full, "agent --config {{ lab_agent_config }}$"]
  register: lab_restart
  changed_when: lab_restart.rc == 0
`;

describe('rollout.yml on the lab (real coordinator, agents, ExaBGP and BIRD)', { skip: skipReason() }, () => {
  let lab: Lab;
  let dir: string;
  let remove: () => Promise<void>;
  let inventoryFile: string | undefined;

  before(async () => {
    ({ dir, remove } = await tempDir('herald-rollout-lab-'));
    lab = await startTestLab('ansible-rollout', {
      topology: failoverTopology(),
      hostLink: true,
      coordinator: heraldCoordinator(),
    });
  });
  after(async () => {
    await releaseTestLab(lab);
    await remove?.();
  });
  afterEach((t) => noteOutcome(t));

  /** Writes the inventory for the lab's nodes (once) and runs rollout.yml while watching the routers. */
  async function rollout(extraArgs: string[]) {
    const { plan, paths } = lab;
    if (!inventoryFile) {
      const version = (
        JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string }
      ).version;
      // The herald CLI an operator has on the control host.
      await writeFile(join(dir, 'herald'), `#!/bin/sh\nexec ${process.execPath} ${compiledCli()} "$@"\n`);
      await chmod(join(dir, 'herald'), 0o755);
      await writeFile(join(dir, 'change.yml'), CHANGE_TASKS);
      const hosts: Record<string, Record<string, unknown>> = {};
      for (const node of plan.nodes) {
        // The node's modules run inside its namespace.
        const python = join(dir, `python-${node.name}`);
        await writeFile(python, `#!/bin/sh\nexec ip netns exec ${node.netns} /usr/bin/python3 "$@"\n`);
        await chmod(python, 0o755);
        hosts[node.name] = {
          ansible_python_interpreter: python,
          site: node.site,
          region: node.region,
          herald_rollout_agent_status_url: controlUrl(nodeOf(lab.context, node.name).node, '/status'),
          lab_agent_config: paths.nodes[node.name]!.agentConfig,
        };
      }
      const inventory = {
        all: {
          vars: {
            ansible_connection: 'local',
            herald_rollout_coordinator_url: lab.coordinatorUrl,
            herald_rollout_token: (await readFile(operatorTokenFile(paths), 'utf8')).trim(),
            herald_rollout_change_tasks: join(dir, 'change.yml'),
            herald_rollout_expect_agent_version: version,
            herald_rollout_health_delay: 1,
            herald_rollout_health_retries: 30,
            herald_rollout_drain_timeout: '2m',
            herald_rollout_undrain_timeout: '2m',
          },
          children: {
            herald_pops: {
              children: Object.fromEntries(
                plan.topology.pops.map((pop) => [
                  pop.name,
                  { hosts: Object.fromEntries(pop.nodes.map((name) => [name, hosts[name]])) },
                ]),
              ),
            },
          },
        },
      };
      inventoryFile = join(dir, 'inventory.yml');
      await writeFile(inventoryFile, JSON.stringify(inventory, null, 2));
    }
    const pidsBefore = Object.fromEntries(
      await Promise.all(
        plan.nodes.map(async (node) => [node.name, await agentPids(lab.context, node)] as const),
      ),
    );
    const observed: Observation[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const snapshot = await lab.observer.snapshot();
        observed.push({
          at: Date.now(),
          announcing: announcingSites(snapshot),
          text: describeSnapshot(snapshot),
        });
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    try {
      const run = await runPlaybook(
        [
          '-i',
          inventoryFile,
          'rollout.yml',
          '-e',
          JSON.stringify({
            herald_rollout_reason: 'ansible rollout lab test',
            herald_rollout_ticket: 'LAB-1',
          }),
          ...extraArgs,
        ],
        { env: { PATH: `${dir}:${process.env.PATH ?? ''}` }, timeoutMs: 600_000 },
      );
      return { run, observed, pidsBefore };
    } finally {
      watching = false;
      await watcher;
    }
  }

  /** Never more than one site missing at the routers; the given sites each went away, in this order. */
  function assertOneSiteAtATime(observed: Observation[], drainedInOrder: string[]): void {
    const allSites = lab.plan.topology.pops.map((pop) => pop.name);
    const worst = observed.reduce((a, b) => (b.announcing.length < a.announcing.length ? b : a));
    assert.ok(worst.announcing.length >= allSites.length - 1, `two sites withdrawn at once:\n${worst.text}`);
    const firstGone = drainedInOrder.map((site) => observed.findIndex((o) => !o.announcing.includes(site)));
    firstGone.forEach((index, i) =>
      assert.ok(
        index >= 0,
        `${drainedInOrder[i]} was never seen withdrawn (${observed.length} observations)`,
      ),
    );
    assert.deepEqual(
      [...firstGone].sort((a, b) => a - b),
      firstGone,
      `drained in the order ${drainedInOrder.join(', ')}`,
    );
  }

  async function assertAgentsRestarted(pidsBefore: Record<string, number[]>, sites: string[]): Promise<void> {
    for (const node of lab.plan.nodes) {
      const now = await agentPids(lab.context, node);
      if (sites.includes(node.site))
        assert.notDeepEqual(now, pidsBefore[node.name], `${node.name}'s agent was restarted`);
      else assert.deepEqual(now, pidsBefore[node.name], `${node.name} was not touched`);
    }
  }

  async function assertEverySiteAnnounces(): Promise<void> {
    const end = await lab.waitUntilAnnounced({ timeoutMs: 30_000 });
    assert.deepEqual(announcingSites(end.value), lab.plan.topology.pops.map((pop) => pop.name).sort());
  }

  it('rolls out to the eu sites one at a time and exits 0 with every site announcing', async () => {
    const { run, observed, pidsBefore } = await rollout(['--limit', 'lon1,ams1']);
    assert.equal(run.code, 0, tail(run.output));
    assertOneSiteAtATime(observed, ['lon1', 'ams1']);
    await assertAgentsRestarted(pidsBefore, ['lon1', 'ams1']);
    await assertEverySiteAnnounces();
  });

  it('drains, changes and restores lon1 then ams1, then stops at the policy refusal for nyc1', async () => {
    const { run, observed, pidsBefore } = await rollout([]);
    // The policy refusal stops the run, with the rule and a clear message.
    assert.notEqual(run.code, 0, tail(run.output));
    assert.match(run.output, /The coordinator refused to drain site nyc1/, tail(run.output));
    assert.match(run.output, /region/i);
    assert.match(run.output, /this site was not drained and the next sites were not touched/);

    assertOneSiteAtATime(observed, ['lon1', 'ams1']);
    assert.ok(
      observed.every((o) => o.announcing.includes('nyc1')),
      'nyc1 was withdrawn although its drain was refused',
    );
    await assertAgentsRestarted(pidsBefore, ['lon1', 'ams1']);
    // Nothing is left drained.
    await assertEverySiteAnnounces();
  });
});
