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
import {
  describeSnapshot,
  isAnnouncedBy,
  isWithdrawnBy,
  type RouteSnapshot,
} from '../../src/lab/route-observer.js';
import { failoverTopology } from '../../src/lab/topology.js';
import { delay, waitFor } from '../../src/lab/wait.js';
import type { FleetStatus } from '../../src/wire/coordinator-api.js';
import {
  coordinatorLabSkip,
  heraldOnLab,
  labFleetStatus,
  noteOutcome,
  releaseTestLab,
  startTestLab,
} from '../support/lab.js';

const CONDITION_TIMEOUT = 45_000;

function skipReason(): string | false {
  const lab = coordinatorLabSkip();
  if (lab) return lab;
  return false;
}

/** Which replica every agent is connected to (by each replica's own view), or undefined. */
async function agentsReplica(lab: Lab): Promise<string | undefined> {
  const views = await Promise.all(
    lab.coordinatorUrls.map(async (url) => ({
      url,
      status: await labFleetStatus(lab, { coordinator: url }).catch(() => undefined),
    })),
  );
  const nodes = lab.plan.nodes.map((n) => n.name);
  const connectedTo = (status: FleetStatus | undefined, node: string) =>
    !!status?.sites.some((site) => site.nodes.some((n) => n.name === node && n.connected));
  const full = views.filter((view) => nodes.every((node) => connectedTo(view.status, node)));
  return full.length === 1 ? full[0]!.url : undefined;
}

describe('lab with three coordinator replicas on etcd', { skip: skipReason() }, () => {
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
    const replica = await waitFor(
      () => agentsReplica(lab),
      (url) => url !== undefined,
      { timeoutMs: CONDITION_TIMEOUT, pollMs: 300, description: 'every agent connected to one replica' },
    );
    assert.ok(lab.coordinatorUrls.includes(replica.value!));
    for (const url of lab.coordinatorUrls) {
      const status = await labFleetStatus(lab, { coordinator: url });
      const names = status.sites.flatMap((site) => site.nodes.map((n) => n.name)).sort();
      assert.deepEqual(names, lab.plan.nodes.map((n) => n.name).sort(), `${url} knows every node`);
    }
  });
});
