/**
 * The lab with three coordinator replicas on a 3-member etcd cluster (`herald lab up
 * --coordinators 3`, issue 13): every agent is given the three URLs; a drain through one replica
 * is visible through another and completes at BIRD; killing the replica the agents follow moves
 * them to another without any route changing at BIRD; the leader SIGKILLed mid-drain: another
 * replica takes over and `--wait` through the survivors exits 0 with the drain verified at BIRD;
 * a replica frozen (SIGSTOP) is given up on by its agents after three silent heartbeats, with no
 * route change; two etcd members lost (no quorum): changes refused with a 503 naming the store, no
 * route changes, the stored drain kept and still listed when quorum returns; one etcd member
 * killed changes nothing (drain and undrain still work). One shared lab for the file.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { heraldCoordinatorReplicas, replicaPids } from '../../src/lab/coordinator-replicas.js';
import { etcdMemberHealth } from '../../src/lab/etcd-cluster.js';
import type { Lab } from '../../src/lab/lab.js';
import { parseProtocolStats, sessionChange, type ProtocolStats } from '../../src/bird/bird-protocol-stats.js';
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

/**
 * Per node, the replica URL its agent is connected to (by each replica's own view); absent: none.
 * A plain object, so a timed-out wait prints where each agent was.
 */
async function agentReplicas(lab: Lab, urls = lab.coordinatorUrls): Promise<Record<string, string>> {
  const views = await Promise.all(
    urls.map(async (url) => ({
      url,
      status: await labFleetStatus(lab, { coordinator: url }).catch(() => undefined),
    })),
  );
  const connected: Record<string, string> = {};
  for (const { url, status } of views)
    for (const node of status?.sites.flatMap((site) => site.nodes) ?? [])
      if (node.connected) connected[node.name] = url;
  return connected;
}

/**
 * Per node, the replica its agent is connected to, once every agent is connected to one (none to
 * `except`). Agents need not share one: an agent whose link went silent on a loaded machine (4 s
 * with the lab's 1 s heartbeat) moves on to the next URL and stays there, which is correct.
 */
async function waitForAgentsConnected(lab: Lab, except?: string): Promise<Record<string, string>> {
  const nodes = lab.plan.nodes.map((n) => n.name);
  const result = await waitFor(
    () => agentReplicas(lab),
    (connected) =>
      nodes.every((node) => node in connected) && !nodes.some((node) => connected[node] === except),
    {
      timeoutMs: CONDITION_TIMEOUT,
      pollMs: 300,
      description: `every agent connected to a replica${except ? ` other than ${except}` : ''}`,
    },
  );
  return result.value;
}

/** The replica lon1-a's agent is connected to (the site the drain tests drain). */
async function lon1Replica(lab: Lab, except?: string): Promise<string> {
  return (await waitForAgentsConnected(lab, except))['lon1-a']!;
}

/**
 * The one replica every agent is connected to, once they all are on the same one: at start, every
 * agent follows the first URL of its list (the order of preference).
 */
async function waitForAgentsOnOneReplica(lab: Lab): Promise<string> {
  const nodes = lab.plan.nodes.map((n) => n.name);
  const result = await waitFor(
    () => agentReplicas(lab),
    (connected) =>
      nodes.every((node) => node in connected) && new Set(nodes.map((node) => connected[node])).size === 1,
    { timeoutMs: CONDITION_TIMEOUT, pollMs: 300, description: 'every agent connected to one replica' },
  );
  return result.value[nodes[0]!]!;
}

function replicaName(lab: Lab, url: string): string {
  return lab.context.state.replicas!.find((r) => r.url === url)!.name;
}

/** The replica URL (one of the lab's) of the current leader as `via` sees it; null while none. */
async function leaderUrl(lab: Lab, via: string): Promise<string | null> {
  const status = await labFleetStatus(lab, { coordinator: via });
  const leader = status.replicas?.list.find((r) => r.leader);
  if (!leader || !status.replicas?.leader) return null;
  const port = (text: string | null) => (text ? (/:(\d+)\/?$/.exec(text)?.[1] ?? null) : null);
  const leaderPort = port(leader.url) ?? port(leader.id);
  return lab.coordinatorUrls.find((url) => url === leader.url || new URL(url).port === leaderPort) ?? null;
}

/** Waits until every replica in `urls` names the same leader among `urls`; returns its URL. */
async function waitForLeader(lab: Lab, urls: readonly string[], except?: string): Promise<string> {
  const result = await waitFor(
    () => Promise.all(urls.map((url) => leaderUrl(lab, url).catch(() => null))),
    (leaders) =>
      new Set(leaders).size === 1 &&
      leaders[0] !== null &&
      leaders[0] !== except &&
      urls.includes(leaders[0]!),
    {
      timeoutMs: CONDITION_TIMEOUT,
      pollMs: 300,
      description: `one leader among ${urls.join(', ')}${except ? ` other than ${except}` : ''}`,
    },
  );
  return result.value[0]!;
}

/** Every BGP session's state, since and import counters at every router (BIRD's own counts). */
async function routeChangeCounters(lab: Lab): Promise<Record<string, ProtocolStats>> {
  const counters: Record<string, ProtocolStats> = {};
  await Promise.all(
    lab.plan.routers.map(async (router) => {
      const output = await runBirdc(lab.paths.routers[router.region]!.birdSocket, 'show protocols all');
      for (const protocol of parseProtocolStats(output).filter((p) => p.proto === 'BGP'))
        counters[`${router.region}/${protocol.name}`] = protocol;
    }),
  );
  return counters;
}

/** Asserts no BGP session at any router restarted or received a route change since `before`. */
async function assertNoRouteChange(lab: Lab, before: Record<string, ProtocolStats>): Promise<void> {
  const after = await routeChangeCounters(lab);
  const changes = [...new Set([...Object.keys(before), ...Object.keys(after)])].flatMap((key) => {
    const [was, is] = [before[key], after[key]];
    if (!was || !is) return [`${key}: ${was ? 'gone' : 'new'}`];
    const change = sessionChange(was, is);
    return change ? [`${key.split('/')[0]}/${change}`] : [];
  });
  assert.deepEqual(changes, [], "BIRD's sessions and route-change counters are unchanged");
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

/** Polls BIRD until stopped: every snapshot where a route differs from "`withdrawn` gone, the rest announced". */
function watchRoutesStay(
  lab: Lab,
  withdrawn: readonly string[],
): { stop: () => Promise<{ changes: string[]; snapshots: number }> } {
  const changes: string[] = [];
  let snapshots = 0;
  let watching = true;
  const nodes = lab.plan.nodes.map((n) => n.name);
  const loop = (async () => {
    while (watching) {
      const snapshot: RouteSnapshot | null = await lab.observer.snapshot().catch(() => null);
      if (snapshot && snapshot.routers.every((r) => !r.error)) {
        snapshots++;
        const wrong = nodes.filter((node) =>
          withdrawn.includes(node) ? !isWithdrawnBy(snapshot, node) : !isAnnouncedBy(snapshot, node),
        );
        if (wrong.length)
          changes.push(`${new Date(snapshot.at).toISOString()} ${describeSnapshot(snapshot)}`);
      }
      await delay(100);
    }
  })();
  return {
    stop: async () => {
      watching = false;
      await loop;
      return { changes, snapshots };
    },
  };
}

/** `herald drain lon1 --wait` through `coordinator`; asserts it exits 0 (the drain completed). */
async function drainLon1(lab: Lab, reason: string, coordinator: string): Promise<void> {
  const drain = await heraldOnLab(lab, ['drain', 'lon1', '--reason', reason, '--wait', '--timeout', '60s'], {
    coordinator,
  });
  assert.equal(drain.code, 0, `${drain.stdout}\n${drain.stderr}`);
}

/** `herald undrain lon1 --wait` through `coordinator`, then every node announced at BIRD again. */
async function undrainLon1(lab: Lab, reason: string, coordinator: string): Promise<void> {
  const undrain = await heraldOnLab(
    lab,
    ['undrain', 'lon1', '--reason', reason, '--wait', '--timeout', '60s'],
    { coordinator },
  );
  assert.equal(undrain.code, 0, `${undrain.stdout}\n${undrain.stderr}`);
  await lab.waitUntilAnnounced({ timeoutMs: CONDITION_TIMEOUT });
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
  afterEach(async (t) => {
    noteOutcome(t);
    // A test that failed between killing a replica and starting it again leaves it down; start it
    // here so the next test judges its own behaviour, not what this one left behind.
    for (const replica of lab.context.state.replicas ?? [])
      if (replicaPids(replica).length === 0) await lab.hostFault(replica.name, 'start-coordinator');
  });

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
    // Every replica shows the whole fleet announcing, also those no agent is connected to: they
    // read the nodes from the shared health board and name the replica each agent is on.
    await lab.waitUntilAnnounced({ timeoutMs: CONDITION_TIMEOUT });
    const placed = await waitForAgentsConnected(lab);
    const idOf = new Map<string, string>();
    for (const url of lab.coordinatorUrls)
      idOf.set(url, (await labFleetStatus(lab, { coordinator: url })).replicas!.self);
    for (const url of lab.coordinatorUrls) {
      const { value: status } = await waitFor(
        () => labFleetStatus(lab, { coordinator: url }),
        (s) => s.announcingSites === s.sites.length,
        { timeoutMs: CONDITION_TIMEOUT, pollMs: 300, description: `${url} counting every site announcing` },
      );
      const elsewhere = status.sites.flatMap((site) => site.nodes).filter((n) => placed[n.name] !== url);
      for (const node of elsewhere) {
        assert.equal(node.connected, false, `${node.name} is not connected to ${url}`);
        assert.equal(
          node.servedBy,
          idOf.get(placed[node.name]!),
          `${url} names the replica ${node.name} is connected to`,
        );
      }
      if (elsewhere.length === 0) continue;
      const text = await heraldOnLab(lab, ['status'], { coordinator: url });
      assert.equal(text.code, 0, text.stderr);
      const servingId = idOf.get(placed[elsewhere[0]!.name]!)!;
      assert.match(
        text.stdout,
        new RegExp(`via replica ${servingId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
      );
    }
  });

  it('agent failover: the replica the agents follow is killed, they move to another, and no route changes at BIRD', async () => {
    await lab.waitUntilAnnounced({ timeoutMs: CONDITION_TIMEOUT });
    const placed = await waitForAgentsConnected(lab);
    const from = placed['lon1-a']!;
    const following = Object.keys(placed).filter((node) => placed[node] === from);
    const before = await routeChangeCounters(lab);
    assert.ok(Object.keys(before).length >= lab.plan.nodes.length, 'BIRD has a session per node');
    const watch = watchEveryNodeAnnounced(lab);
    const killed = await lab.hostFault(replicaName(lab, from), 'kill-coordinator');
    assert.ok(killed.pids.length > 0);
    const moved = await waitForAgentsConnected(lab, from).then(
      (placement) => ({ placement }),
      (error: unknown) => ({ error }),
    );
    const { gaps, snapshots } = await watch.stop();
    if ('error' in moved) throw moved.error;
    for (const node of following)
      assert.ok(
        moved.placement[node] && moved.placement[node] !== from,
        `${node} moved from ${replicaName(lab, from)} to another replica`,
      );
    assert.deepEqual(gaps, [], 'every node announced at every router in every snapshot');
    assert.ok(snapshots > 5, `BIRD was watched during the failover (${snapshots} snapshots)`);
    await assertNoRouteChange(lab, before);
    // The killed replica comes back and answers; the agents stay where they are.
    await lab.hostFault(replicaName(lab, from), 'start-coordinator');
    const status = await labFleetStatus(lab, { coordinator: from });
    assert.ok(status.sites.length > 0);
  });

  it('a frozen replica (SIGSTOP, a long pause): its agents give up on it after three silent heartbeats, move to another, and no route changes at BIRD', async () => {
    await lab.waitUntilAnnounced({ timeoutMs: CONDITION_TIMEOUT });
    const placed = await waitForAgentsConnected(lab);
    const frozen = placed['lon1-a']!;
    const following = Object.keys(placed).filter((node) => placed[node] === frozen);
    const before = await routeChangeCounters(lab);
    const watch = watchEveryNodeAnnounced(lab);
    let moved: { placement: Record<string, string> } | { error: unknown };
    await lab.hostFault(replicaName(lab, frozen), 'freeze-coordinator');
    try {
      // The frozen replica answers nothing, so only the others are asked where the agents are.
      moved = await waitFor(
        () =>
          agentReplicas(
            lab,
            lab.coordinatorUrls.filter((url) => url !== frozen),
          ),
        (connected) => following.every((node) => connected[node] !== undefined),
        {
          timeoutMs: CONDITION_TIMEOUT,
          pollMs: 300,
          description: `${following.join(', ')} connected to a replica other than the frozen ${replicaName(lab, frozen)}`,
        },
      ).then(
        (result) => ({ placement: result.value }),
        (error: unknown) => ({ error }),
      );
    } finally {
      await lab.hostFault(replicaName(lab, frozen), 'thaw-coordinator');
    }
    const { gaps, snapshots } = await watch.stop();
    if ('error' in moved) throw moved.error;
    assert.deepEqual(gaps, [], 'every node announced at every router in every snapshot');
    assert.ok(snapshots > 5, `BIRD was watched while the replica was frozen (${snapshots} snapshots)`);
    await assertNoRouteChange(lab, before);
    // Thawed, it answers again (the agents stay where they moved); its lease may have lapsed
    // while it was stopped, so give it the time to take a new one.
    await waitFor(
      () => labFleetStatus(lab, { coordinator: frozen }),
      (status) => status.sites.length > 0,
      {
        timeoutMs: CONDITION_TIMEOUT,
        pollMs: 300,
        description: `the thawed ${replicaName(lab, frozen)} answering`,
      },
    );
  });

  it('a drain through one replica is visible through another and completes at BIRD; undrain brings it back', async () => {
    const agents = await lon1Replica(lab);
    const other = lab.coordinatorUrls.find((url) => url !== agents)!;
    await drainLon1(lab, 'replicas e2e', agents);
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
    await undrainLon1(lab, 'replicas e2e done', agents);
  });

  it('leader killed mid-drain: another replica takes over, the drain completes at BIRD and --wait exits 0', async () => {
    await lab.waitUntilAnnounced({ timeoutMs: CONDITION_TIMEOUT });
    const leader = await waitForLeader(lab, lab.coordinatorUrls);
    const survivors = lab.coordinatorUrls.filter((url) => url !== leader);
    // --wait through the two replicas that survive; the graceful hold keeps the drain in progress.
    const draining = heraldOnLab(
      lab,
      ['drain', 'lon1', '--reason', 'leader killed', '--hold', '12s', '--wait', '--timeout', '120s'],
      { coordinator: survivors.join(','), timeoutMs: 150_000 },
    );
    const inProgress = await waitFor(
      () => labFleetStatus(lab, { coordinator: survivors[0]! }),
      (status) =>
        status.sites.some((site) => site.holds.some((h) => h.reason === 'leader killed' && !h.complete)),
      {
        timeoutMs: CONDITION_TIMEOUT,
        pollMs: 200,
        description: 'the drain of lon1 stored and in progress',
      },
    );
    assert.ok(inProgress.value.sites.find((s) => s.name === 'lon1')!.holds.some((h) => !h.complete));
    const killed = await lab.hostFault(replicaName(lab, leader), 'kill-coordinator');
    assert.ok(killed.pids.length > 0);
    const drain = await draining;
    assert.equal(drain.code, 0, `--wait across the failover: ${drain.stdout}\n${drain.stderr}`);
    assert.match(drain.stdout + drain.stderr, /complete: every node of .*lon1.* withdrawn/);
    const next = await waitForLeader(lab, survivors, leader);
    assert.ok(
      survivors.includes(next),
      `${replicaName(lab, next)} leads after ${replicaName(lab, leader)} was killed`,
    );
    const snapshot = await lab.observer.snapshot();
    assert.ok(isWithdrawnBy(snapshot, 'lon1-a'), `withdrawn at every router: ${describeSnapshot(snapshot)}`);
    assert.ok(isAnnouncedBy(snapshot, 'ams1-a') && isAnnouncedBy(snapshot, 'nyc1-a'));
    const agents = await lon1Replica(lab, leader);
    await undrainLon1(lab, 'leader killed, done', agents);
    await lab.hostFault(replicaName(lab, leader), 'start-coordinator');
    await waitForLeader(lab, lab.coordinatorUrls);
  });

  it('etcd without quorum: changes refused with a 503 naming the store, routes and stored drains kept; quorum back, nothing lost', async () => {
    await lab.waitUntilAnnounced({ timeoutMs: CONDITION_TIMEOUT });
    const etcd = lab.context.state.etcd!;
    // Every member serving first (an earlier test may have left one down).
    const down = (await etcdMemberHealth(etcd)).filter((m) => !m.up);
    for (const member of down) await lab.hostFault(member.name, 'start-etcd');
    await waitFor(
      () => etcdMemberHealth(etcd),
      (health) => health.every((m) => m.up),
      { timeoutMs: CONDITION_TIMEOUT, pollMs: 300, description: 'every etcd member up' },
    );
    const drain = await heraldOnLab(lab, [
      'drain',
      'lon1',
      '--reason',
      'before quorum loss',
      '--wait',
      '--timeout',
      '60s',
      '--json',
    ]);
    assert.equal(drain.code, 0, `${drain.stdout}\n${drain.stderr}`);
    const drainId = (JSON.parse(drain.stdout) as { drain: { id: string } }).drain.id;
    await lab.observer.waitFor((s) => isWithdrawnBy(s, 'lon1-a'), {
      timeoutMs: CONDITION_TIMEOUT,
      description: 'lon1-a withdrawn at every router',
    });
    const before = await routeChangeCounters(lab);
    const watch = watchRoutesStay(lab, ['lon1-a']);
    const lost = [etcd.members[0]!.name, etcd.members[1]!.name];
    let outcome: { changes: string[]; snapshots: number } | undefined;
    try {
      for (const member of lost) assert.ok((await lab.hostFault(member, 'kill-etcd')).pids.length > 0);
      // Every replica sees it (within half the lease TTL) and says so in /status.
      for (const url of lab.coordinatorUrls) {
        const status = await waitFor(
          () => labFleetStatus(lab, { coordinator: url }),
          // Unreachable for two probe intervals (1 s each here): from then on a change is refused at
          // once; before, it waits out etcd's deadline on every replica the CLI tries.
          (s) =>
            s.store?.reachable === false &&
            s.replicas?.leading === false &&
            Date.now() - s.store.since >= 2500,
          {
            timeoutMs: CONDITION_TIMEOUT,
            pollMs: 300,
            description: `${url}: store unreachable for two probe intervals, not leading`,
          },
        );
        assert.ok(status.value.store!.fault, `${url} names the store fault`);
      }
      // Allowed by every policy rule (overridden), so only the store can refuse it.
      const overrides = [
        'maxConcurrentDrains',
        'maxConcurrentDrainsPerRegion',
        'minAnnouncingSites',
        'regionFloor',
      ];
      const refused = await heraldOnLab(lab, [
        'drain',
        'nyc1',
        '--reason',
        'without quorum',
        '--json',
        ...overrides.flatMap((rule) => ['--override', `${rule}=quorum e2e`]),
      ]);
      assert.equal(
        refused.code,
        1,
        `a drain without quorum is refused: ${refused.stdout}\n${refused.stderr}`,
      );
      assert.ok(refused.stdout.trim(), `the refusal is a JSON answer on stdout; stderr: ${refused.stderr}`);
      const answer = (
        JSON.parse(refused.stdout) as { error: { status: number; code: string; message: string } }
      ).error;
      assert.equal(answer.status, 503, refused.stdout);
      assert.equal(answer.code, 'store_unavailable', refused.stdout);
      assert.match(answer.message, /store/i);
      assert.match(refused.stderr, /store/i, 'the CLI says why');
      const undrainRefused = await heraldOnLab(lab, ['undrain', 'lon1', '--reason', 'without quorum']);
      assert.notEqual(
        undrainRefused.code,
        0,
        `an undrain without quorum is refused: ${undrainRefused.stdout}`,
      );
      assert.match(undrainRefused.stderr, /store/i);
      // The agents stay connected and keep lon1's stored drain while the replicas cannot store.
      // Asked of the replica lon1-a's agent is connected to (what an agent holds is in its reports there).
      const served = (await agentReplicas(lab))['lon1-a'];
      assert.ok(served, "lon1-a's agent stays connected to a replica without quorum");
      const status = await labFleetStatus(lab, { coordinator: served });
      const lon1 = status.sites.find((s) => s.name === 'lon1')!;
      assert.ok(
        lon1.nodes.every((n) => n.drains.includes(drainId)),
        `lon1's agents keep the drain ${drainId}: ${JSON.stringify(lon1.nodes.map((n) => n.drains))}`,
      );
    } finally {
      for (const member of lost) await lab.hostFault(member, 'start-etcd');
      outcome = await watch.stop();
    }
    assert.deepEqual(outcome.changes, [], 'lon1-a stays withdrawn and every other node announced');
    assert.ok(outcome.snapshots > 5, `BIRD was watched without quorum (${outcome.snapshots} snapshots)`);
    await assertNoRouteChange(lab, before);
    // Quorum back: every replica reaches the store again, one leads, and the drain is still on record.
    for (const url of lab.coordinatorUrls)
      await waitFor(
        () => labFleetStatus(lab, { coordinator: url }),
        (s) => s.store?.reachable === true,
        { timeoutMs: CONDITION_TIMEOUT, pollMs: 300, description: `${url}: store reachable again` },
      );
    await waitForLeader(lab, lab.coordinatorUrls);
    const after = await labFleetStatus(lab);
    assert.ok(
      after.sites.find((s) => s.name === 'lon1')!.holds.some((h) => h.drainId === drainId),
      `the drain ${drainId} is still listed after quorum returned`,
    );
    assert.ok(
      !after.sites.find((s) => s.name === 'nyc1')!.holds.length,
      'the drain refused without quorum was not stored',
    );
    await undrainLon1(lab, 'quorum back', await lon1Replica(lab));
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
    await assertNoRouteChange(lab, before);
    const agents = await lon1Replica(lab);
    await drainLon1(lab, 'etcd member down', agents);
    assert.ok(isWithdrawnBy(await lab.observer.snapshot(), 'lon1-a'));
    await undrainLon1(lab, 'etcd member down, done', agents);
    await lab.hostFault(etcd.members[0]!.name, 'start-etcd');
  });
});
