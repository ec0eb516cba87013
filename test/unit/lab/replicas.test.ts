/**
 * `herald lab up --coordinators N`, the parts that are pure: each replica's config (the etcd
 * store, its own dataDir and port), the agents' config with every replica's URL, etcd's flags,
 * and the host lines of `herald lab status`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { agentConfigSchema } from '../../../src/config/agent-schema.js';
import { coordinatorConfigSchema } from '../../../src/coordinator/config-schema.js';
import { buildAgentConfig, DEFAULT_AGENT_TUNING } from '../../../src/lab/agent-config.js';
import type { LabContext } from '../../../src/lab/context.js';
import { buildReplicaConfig, findReplica } from '../../../src/lab/coordinator-replicas.js';
import { newCoordinatorTokens } from '../../../src/lab/coordinator.js';
import { etcdArgs, findEtcdMember } from '../../../src/lab/etcd-cluster.js';
import { formatHostReport } from '../../../src/lab/host-status.js';
import { labPaths } from '../../../src/lab/paths.js';
import { planLab } from '../../../src/lab/plan.js';
import type { EtcdLabState, ReplicaState } from '../../../src/lab/state.js';
import { defaultTopology } from '../../../src/lab/topology.js';

const plan = planLab(defaultTopology(), 'unit02');
const paths = labPaths('/tmp/herald-lab-unit02', plan);
const context = { plan, paths } as LabContext;
const etcd: EtcdLabState = {
  prefix: '/herald-lab-unit02/',
  token: 'herald-lab-unit02',
  members: [1, 2, 3].map((i) => ({
    name: `etcd-${i}`,
    clientUrl: `http://127.0.0.1:2379${i}`,
    peerUrl: `http://127.0.0.1:2380${i}`,
    dir: `/tmp/herald-lab-unit02/etcd/etcd-${i}`,
  })),
};
const replicas: ReplicaState[] = [1, 2, 3].map((i) => ({
  name: `coordinator-${i}`,
  url: `http://${plan.host.ipv4}:${9179 + i}`,
  dir: `/tmp/herald-lab-unit02/coordinators/coordinator-${i}`,
}));

describe('replica config', () => {
  it('is valid for the coordinator: the etcd store of the run, its own dataDir and port', () => {
    const tokens = newCoordinatorTokens(plan);
    const configs = replicas.map((replica) =>
      coordinatorConfigSchema.parse(buildReplicaConfig(context, tokens, replica, etcd)),
    );
    for (const [i, config] of configs.entries()) {
      assert.deepEqual(config.store, {
        engine: 'etcd',
        endpoints: etcd.members.map((m) => m.clientUrl),
        prefix: '/herald-lab-unit02/',
        timeout: 5000,
        healthInterval: 1000,
        leaseTtl: 10_000,
      });
      assert.equal(config.dataDir, replicas[i]!.dir);
      assert.equal(config.listen.host, plan.host.ipv4);
      assert.equal(config.listen.port, 9180 + i);
    }
    // The same tokens everywhere: an agent may land on any replica.
    assert.deepEqual(configs[0]!.tokens, configs[2]!.tokens);
  });

  it('names the replicas and members there are when asked for another', () => {
    assert.equal(findReplica(replicas, 'coordinator-2').url, replicas[1]!.url);
    assert.throws(
      () => findReplica(replicas, 'coordinator-7'),
      /expected one of coordinator-1, coordinator-2, coordinator-3, received "coordinator-7"/,
    );
    assert.throws(() => findEtcdMember(etcd, 'm1'), /expected one of etcd-1, etcd-2, etcd-3, received "m1"/);
  });
});

describe("agents' config with replicas", () => {
  it('gives every agent the list of replica URLs, which the agent schema accepts', () => {
    const node = plan.nodes[0]!;
    const urls = replicas.map((r) => r.url);
    const config = buildAgentConfig(plan, node, paths.nodes[node.name]!, '/ca.pem', DEFAULT_AGENT_TUNING, {
      url: urls,
      token: 'x'.repeat(32),
    });
    assert.deepEqual(agentConfigSchema.parse(config).coordinator?.url, urls);
  });
});

describe('etcd flags', () => {
  it('form one cluster of the three members, on their data dirs, with compaction and a quota', () => {
    const args = etcdArgs(etcd, etcd.members[1]!);
    assert.ok(args.includes('--name=etcd-2'));
    assert.ok(args.includes('--data-dir=/tmp/herald-lab-unit02/etcd/etcd-2/data'));
    assert.ok(args.includes('--listen-client-urls=http://127.0.0.1:23792'));
    assert.ok(
      args.includes(
        '--initial-cluster=etcd-1=http://127.0.0.1:23801,etcd-2=http://127.0.0.1:23802,etcd-3=http://127.0.0.1:23803',
      ),
    );
    assert.ok(args.includes('--initial-cluster-token=herald-lab-unit02'));
    assert.ok(args.includes('--auto-compaction-retention=1h'));
    assert.ok(args.some((arg) => arg.startsWith('--quota-backend-bytes=')));
  });
});

describe('lab status, host side', () => {
  it('lists each replica and member with its state, and whether etcd has quorum', () => {
    const lines = formatHostReport({
      replicas: [
        { name: 'coordinator-1', url: 'http://198.51.100.158:9180', state: 'up', pids: [10] },
        { name: 'coordinator-2', url: 'http://198.51.100.158:9181', state: 'down', pids: [] },
        { name: 'coordinator-3', url: 'http://198.51.100.158:9182', state: 'frozen', pids: [12] },
      ],
      etcd: [
        { name: 'etcd-1', url: 'http://127.0.0.1:1', state: 'down', pids: [] },
        { name: 'etcd-2', url: 'http://127.0.0.1:2', state: 'down', pids: [] },
        { name: 'etcd-3', url: 'http://127.0.0.1:3', state: 'up', pids: [13] },
      ],
    });
    assert.equal(lines[0], 'coordinator replicas (1/3 up):');
    assert.match(lines[1]!, /^ {2}coordinator-1 +http:\/\/198\.51\.100\.158:9180 +up \(pid 10\)$/);
    assert.match(lines[2]!, /coordinator-2 +\S+ +DOWN$/);
    assert.match(lines[3]!, /coordinator-3 +\S+ +FROZEN \(pid 12\)$/);
    assert.equal(lines[4], 'etcd members (1/3 up; NO QUORUM):');
  });
});
