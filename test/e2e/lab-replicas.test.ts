/**
 * The lab with three coordinator replicas on a 3-member etcd cluster (`herald lab up
 * --coordinators 3`, issue 13): every agent is given the three URLs; a drain through one replica
 * is visible through another and completes at BIRD; killing the replica the agents follow moves
 * them to another without any route changing at BIRD; one etcd member killed changes nothing
 * (drain and undrain still work). One shared lab for the file.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { heraldCoordinatorReplicas } from '../../src/lab/coordinator-replicas.js';
import { etcdMemberHealth } from '../../src/lab/etcd-cluster.js';
import type { Lab } from '../../src/lab/lab.js';
import { parseProtocolStats } from '../../src/bird/bird-protocol-stats.js';
import {
  describeSnapshot,
  isAnnouncedBy,
  isWithdrawnBy,
  runBirdc,
  type RouteSnapshot,
} from '../../src/lab/route-observer.js';
import { failoverTopology } from '../../src/lab/topology.js';
import { delay, waitFor } from '../../src/lab/wait.js';
import {
  coordinatorLabSkip,
  heraldOnLab,
  labFleetStatus,
  noteOutcome,
  releaseTestLab,
  startTestLab,
} from '../support/lab.js';

const CONDITION_TIMEOUT = 45_000;

/** Per node, the replica URL its agent is connected to (by each replica's own view); absent: none. */
async function agentReplicas(lab: Lab): Promise<Map<string, string>> {
  const views = await Promise.all(
    lab.coordinatorUrls.map(async (url) => ({
      url,
      status: await labFleetStatus(lab, { coordinator: url }).catch(() => undefined),
    })),
  );
  const connected = new Map<string, string>();
  for (const { url, status } of views)
    for (const node of status?.sites.flatMap((site) => site.nodes) ?? [])
      if (node.connected) connected.set(node.name, url);
  return connected;
}

/** The one replica every agent is connected to, once they all are on the same one. */
async function waitForAgentsOnOneReplica(lab: Lab, except?: string): Promise<string> {
  const nodes = lab.plan.nodes.map((n) => n.name);
  const result = await waitFor(
    () => agentReplicas(lab),
    (map) => {
      const urls = new Set(nodes.map((node) => map.get(node)));
      return nodes.every((node) => map.has(node)) && urls.size === 1 && !urls.has(except);
    },
    {
      timeoutMs: CONDITION_TIMEOUT,
      pollMs: 300,
      description: `every agent connected to one replica${except ? ` other than ${except}` : ''}`,
    },
  );
  return result.value.get(nodes[0]!)!;
}

function replicaName(lab: Lab, url: string): string {
  return lab.context.state.replicas!.find((r) => r.url === url)!.name;
}

/** Every BGP session's state, since and import counters at every router (BIRD's own counts). */
async function routeChangeCounters(lab: Lab): Promise<Record<string, string>> {
  const counters: Record<string, string> = {};
  await Promise.all(
    lab.plan.routers.map(async (router) => {
      const output = await runBirdc(lab.paths.routers[router.region]!.birdSocket, 'show protocols all');
      for (const protocol of parseProtocolStats(output).filter((p) => p.proto === 'BGP'))
        counters[`${router.region}/${protocol.name}`] = JSON.stringify({
          state: protocol.state,
          since: protocol.since,
          channels: protocol.channels,
        });
    }),
  );
  return counters;
}

/** Polls BIRD until stopped: every snapshot where a node's route was missing at some router. */
function watchEveryNodeAnnounced(lab: Lab): { stop: () => Promise<{ gaps: string[]; snapshots: number }> } {
  const gaps: string[] = [];
  let snapshots = 0;
  let watching = true;
  const nodes = lab.plan.nodes.map((n) => n.name);
  const loop = (async () => {
    while (watching) {
      const snapshot: RouteSnapshot | null = await lab.observer.snapshot().catch(() => null);
      if (snapshot && snapshot.routers.every((r) => !r.error)) {
        snapshots++;
        const missing = nodes.filter(
          (node) => !lab.plan.routers.every((r) => isAnnouncedBy(snapshot, node, r.region)),
        );
        if (missing.length) gaps.push(`${new Date(snapshot.at).toISOString()} ${describeSnapshot(snapshot)}`);
      }
      await delay(50);
    }
  })();
  return {
    stop: async () => {
      watching = false;
      await loop;
      return { gaps, snapshots };
    },
  };
}

describe('lab with three coordinator replicas on etcd', { skip: coordinatorLabSkip() }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startTestLab('lab-replicas', {
      topology: failoverTopology(),
      hostLink: true,
      coordinator: heraldCoordinatorReplicas({ count: 3 }),
      agentTuning: { flapDamping: false },
    });
  });
  after(() => releaseTestLab(lab));
  afterEach((t) => noteOutcome(t));

  it('every agent is given the three URLs and connects to one replica; each replica answers status', async () => {
    assert.equal(lab.coordinatorUrls.length, 3);
    assert.equal(new Set(lab.coordinatorUrls).size, 3, 'each replica on its own port');
    const replica = await waitForAgentsOnOneReplica(lab);
    assert.ok(lab.coordinatorUrls.includes(replica));
    for (const url of lab.coordinatorUrls) {
      const status = await labFleetStatus(lab, { coordinator: url });
      const names = status.sites.flatMap((site) => site.nodes.map((n) => n.name)).sort();
      assert.deepEqual(names, lab.plan.nodes.map((n) => n.name).sort(), `${url} knows every node`);
    }
  });

  it('a drain through one replica is visible through another and completes at BIRD; undrain brings it back', async () => {
    const agents = await waitForAgentsOnOneReplica(lab);
    const other = lab.coordinatorUrls.find((url) => url !== agents)!;
    const drain = await heraldOnLab(
      lab,
      ['drain', 'lon1', '--reason', 'replicas e2e', '--wait', '--timeout', '60s'],
      { coordinator: agents },
    );
    assert.equal(drain.code, 0, `${drain.stdout}\n${drain.stderr}`);
    const snapshot = await lab.observer.snapshot();
    assert.ok(isWithdrawnBy(snapshot, 'lon1-a'), `withdrawn at every router: ${describeSnapshot(snapshot)}`);
    assert.ok(isAnnouncedBy(snapshot, 'ams1-a') && isAnnouncedBy(snapshot, 'nyc1-a'));
    // Through another replica (reading the shared store): the drain is on record there.
    const audit = await heraldOnLab(lab, ['audit', '--site', 'lon1', '--json'], { coordinator: other });
    assert.equal(audit.code, 0, audit.stderr);
    const entries = JSON.parse(audit.stdout) as { action: string; reason?: string; drainId?: string }[];
    assert.ok(
      entries.some((e) => e.reason === 'replicas e2e' && e.drainId),
      `${replicaName(lab, other)} shows the drain made through ${replicaName(lab, agents)}: ${audit.stdout}`,
    );
    const undrain = await heraldOnLab(
      lab,
      ['undrain', 'lon1', '--reason', 'replicas e2e done', '--wait', '--timeout', '60s'],
      { coordinator: agents },
    );
    assert.equal(undrain.code, 0, `${undrain.stdout}\n${undrain.stderr}`);
    await lab.waitUntilAnnounced({ timeoutMs: CONDITION_TIMEOUT });
  });

  it('agent failover: the replica the agents follow is killed, they move to another, and no route changes at BIRD', async () => {
    await lab.waitUntilAnnounced({ timeoutMs: CONDITION_TIMEOUT });
    const from = await waitForAgentsOnOneReplica(lab);
    const before = await routeChangeCounters(lab);
    assert.ok(Object.keys(before).length >= lab.plan.nodes.length, 'BIRD has a session per node');
    const watch = watchEveryNodeAnnounced(lab);
    const killed = await lab.hostFault(replicaName(lab, from), 'kill-coordinator');
    assert.ok(killed.pids.length > 0);
    const moved = await waitForAgentsOnOneReplica(lab, from).then(
      (url) => ({ url }),
      (error: unknown) => ({ error }),
    );
    const { gaps, snapshots } = await watch.stop();
    if ('error' in moved) throw moved.error;
    const to = moved.url;
    assert.notEqual(to, from);
    assert.deepEqual(gaps, [], 'every node announced at every router in every snapshot');
    assert.ok(snapshots > 5, `BIRD was watched during the failover (${snapshots} snapshots)`);
    assert.deepEqual(
      await routeChangeCounters(lab),
      before,
      "BIRD's sessions and route-change counters are unchanged",
    );
    // The killed replica comes back and answers; the agents stay where they are.
    await lab.hostFault(replicaName(lab, from), 'start-coordinator');
    const status = await labFleetStatus(lab, { coordinator: from });
    assert.ok(status.sites.length > 0);
  });

  it('one etcd member killed: nothing changes, drain and undrain still work', async () => {
    await lab.waitUntilAnnounced({ timeoutMs: CONDITION_TIMEOUT });
    const etcd = lab.context.state.etcd!;
    const before = await routeChangeCounters(lab);
    const killed = await lab.hostFault(etcd.members[0]!.name, 'kill-etcd');
    assert.ok(killed.pids.length > 0);
    const health = await etcdMemberHealth(etcd);
    assert.deepEqual(
      health.map((m) => m.up),
      [false, true, true],
      'etcd-1 down, the two others serving',
    );
    assert.deepEqual(await routeChangeCounters(lab), before, 'no route changed at BIRD');
    const agents = await waitForAgentsOnOneReplica(lab);
    const drain = await heraldOnLab(
      lab,
      ['drain', 'lon1', '--reason', 'etcd member down', '--wait', '--timeout', '60s'],
      { coordinator: agents },
    );
    assert.equal(drain.code, 0, `${drain.stdout}\n${drain.stderr}`);
    assert.ok(isWithdrawnBy(await lab.observer.snapshot(), 'lon1-a'));
    const undrain = await heraldOnLab(
      lab,
      ['undrain', 'lon1', '--reason', 'etcd member down, done', '--wait', '--timeout', '60s'],
      { coordinator: agents },
    );
    assert.equal(undrain.code, 0, `${undrain.stdout}\n${undrain.stderr}`);
    await lab.waitUntilAnnounced({ timeoutMs: CONDITION_TIMEOUT });
    await lab.hostFault(etcd.members[0]!.name, 'start-etcd');
  });
});
