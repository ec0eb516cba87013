/**
 * Coordinator replicas on a real 3-member etcd, as real `herald coordinator` processes: exactly
 * one leads; SIGKILL it and another leads within about the lease TTL; a leader frozen (SIGSTOP)
 * mid-work stops acting before another starts, so the audit log shows no window started twice
 * and no drain step applied twice, and when thawed it steps down and says so in its log. Every
 * replica sees the live replicas and the leader in /status and /metrics.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, afterEach, before, describe, it } from 'node:test';
import { EtcdCluster, etcdSkip } from '../../support/etcd-cluster.js';
import { CoordinatorProcess, runCli, tempDir, TOKENS, waitFor, type Json } from './harness.js';

const sites = [
  { name: 'lon1', region: 'eu', nodes: ['lon1-a'] },
  { name: 'nyc1', region: 'us', nodes: ['nyc1-a'] },
  { name: 'fra1', region: 'eu', nodes: ['fra1-a'] },
];
const LEASE_TTL_MS = 3000;

describe('coordinator replicas on etcd: one leader, fenced singleton work', { skip: etcdSkip() }, () => {
  let cluster: EtcdCluster;
  const dirs: { remove(): void }[] = [];
  const replicas: CoordinatorProcess[] = [];
  const prefix = `/herald-lead-${randomBytes(4).toString('hex')}/`;
  /** Replicas under SIGSTOP (their HTTP does not answer). */
  const frozen = new Set<CoordinatorProcess>();
  const alive = () =>
    replicas.filter((r) => r.child && r.child.exitCode === null && r.child.signalCode === null);

  before(async () => {
    cluster = await EtcdCluster.start();
    for (let i = 1; i <= 3; i++) {
      const dir = tempDir(`herald-lead-r${i}-`);
      dirs.push(dir);
      const replica = new CoordinatorProcess(dir.dir, {
        sites,
        // No agents here: no floor to hold, so every drain may step to withdraw.
        policy: {
          minAnnouncingSites: 0,
          regionFloor: false,
          defaultHold: 200,
          maxConcurrentDrains: 5,
          maxConcurrentDrainsPerRegion: 5,
        },
        extra: {
          store: {
            engine: 'etcd',
            endpoints: cluster.endpoints,
            prefix,
            leaseTtl: LEASE_TTL_MS,
            replicaId: `r${i}`,
          },
          agents: { staleAfter: 2000, keepalive: 500, staleGrace: 1000 },
        },
      });
      replicas.push(replica);
    }
    await Promise.all(replicas.map((r) => r.start()));
  });

  // A test that fails while a replica is frozen must not leave it frozen for the next one (its
  // requests would hang until their timeouts).
  afterEach(() => {
    for (const replica of frozen) replica.child?.kill('SIGCONT');
    frozen.clear();
  });

  after(async () => {
    for (const replica of replicas) {
      if (frozen.has(replica)) replica.child?.kill('SIGCONT');
      await replica.kill9();
    }
    await cluster?.stop();
    for (const dir of dirs) dir.remove();
  });

  /** Each live replica's view: who it says leads, whether it leads, the replicas it sees. */
  async function views(
    among = alive(),
  ): Promise<{ id: string; leading: boolean; leader: string | null; list: string[] }[]> {
    return Promise.all(
      among.map(async (r) => {
        const status = await r.get('/api/v1/status');
        const replicasStatus = status.replicas as Json;
        return {
          id: replicasStatus.self,
          leading: replicasStatus.leading,
          leader: replicasStatus.leader,
          list: replicasStatus.list.map((x: Json) => x.id),
        };
      }),
    );
  }

  /** The one replica every live one agrees leads, once they agree. */
  async function agreedLeader(among = alive()): Promise<CoordinatorProcess> {
    const id = await waitFor(
      async () => {
        const seen = await views(among);
        const leading = seen.filter((v) => v.leading);
        if (leading.length !== 1) return undefined;
        return seen.every((v) => v.leader === leading[0]!.id) ? leading[0]!.id : undefined;
      },
      'exactly one leader that every live replica names',
      30_000,
    );
    return replicas[Number(id.slice(1)) - 1]!;
  }

  async function metric(replica: CoordinatorProcess, name: string): Promise<number> {
    const text = await (await fetch(`${replica.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    assert.ok(line, `${name} in /metrics of ${replica.url}`);
    return Number(line.split(' ')[1]);
  }

  async function audit(query: string): Promise<Json[]> {
    const reader = alive().find((r) => !frozen.has(r))!;
    return (await reader.get(`/api/v1/audit?limit=1000&${query}`)).entries;
  }

  it('exactly one of three leads; every replica shows the three, the leader and itself; metrics agree', async () => {
    const leader = await agreedLeader();
    await waitFor(
      async () => (await views()).every((v) => v.list.length === 3),
      'every replica to see three',
    );
    const seen = await views();
    assert.deepEqual(
      seen.map((v) => v.id).sort(),
      ['r1', 'r2', 'r3'],
      'each names itself as the one serving',
    );
    let leaders = 0;
    for (const replica of replicas) {
      leaders += await metric(replica, 'herald_coordinator_leader');
      assert.equal(await metric(replica, 'herald_coordinator_replicas'), 3);
    }
    assert.equal(leaders, 1, 'herald_coordinator_leader is 1 on exactly one replica');
    assert.match(leader.log, /is now the leader/);
    // `herald status` against a replica that does not lead names the leader and the one serving.
    const other = replicas.find((r) => r !== leader)!;
    const otherId = `r${replicas.indexOf(other) + 1}`;
    const leaderId = `r${replicas.indexOf(leader) + 1}`;
    const cli = await runCli(['status'], { url: other.url, token: TOKENS.viewer });
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, new RegExp(`^replicas: 3; leader ${leaderId}; serving you: ${otherId}$`, 'm'));
    assert.match(cli.stdout, new RegExp(`^  replica ${leaderId} \\(leader\\) `, 'm'));
  });

  it('a leader frozen mid-work stops before another takes over: no window started twice, no drain step applied twice; thawed, it steps down', async () => {
    const leader = await agreedLeader();
    const others = replicas.filter((r) => r !== leader);
    // A drain requested on a replica that does not lead: the leader picks it up and steps it.
    const asked = await others[0]!.api('POST', '/api/v1/drains', TOKENS.alice, {
      site: 'nyc1',
      reason: 'kernel upgrade',
      hold: 200,
    });
    assert.equal(asked.status, 201, JSON.stringify(asked.body));
    const drainId = asked.body.drain.id as string;
    await waitFor(
      async () =>
        (await audit(`drain=${drainId}&action=drain.step`)).some((e) => e.details.phase === 'withdraw'),
      'the leader to step the drain to withdraw',
    );
    // A window starting in 3 s, created on the leader.
    const start = new Date(Date.now() + 3000);
    const cron = `${start.getUTCSeconds()} ${start.getUTCMinutes()} ${start.getUTCHours()} * * *`;
    const created = await leader.api('POST', '/api/v1/windows', TOKENS.alice, {
      site: 'lon1',
      cron,
      timezone: 'UTC',
      duration: 600_000,
      reason: 'patching',
      hold: 200,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const windowId = (created.body.window?.id ?? created.body.id) as string;
    await waitFor(
      async () => (await audit(`window=${windowId}&action=window.started`)).length > 0,
      'the window to start',
    ).catch(async (error: unknown) => {
      throw new Error(
        `${String(error)}\nwindow ${JSON.stringify(created.body)}\naudit ${JSON.stringify(await audit(`window=${windowId}`))}\n${leader.log.slice(-3000)}`,
      );
    });

    // Freeze the leader: its lease expires, another replica leads.
    leader.child!.kill('SIGSTOP');
    frozen.add(leader);
    const successor = await agreedLeader(others);
    assert.notEqual(successor, leader);
    // The new leader acts: a drain requested now is stepped by it.
    const second = await successor.api('POST', '/api/v1/drains', TOKENS.alice, {
      site: 'fra1',
      reason: 'rack move',
      hold: 200,
    });
    assert.equal(second.status, 201, JSON.stringify(second.body));
    const secondId = second.body.drain.id as string;
    await waitFor(
      async () =>
        (await audit(`drain=${secondId}&action=drain.step`)).some((e) => e.details.phase === 'withdraw'),
      'the new leader to step the second drain',
    );

    // Thaw the old leader: it must not act on its old leadership, and it says it stepped down.
    const logBefore = leader.log.length;
    leader.child!.kill('SIGCONT');
    frozen.delete(leader);
    await waitFor(
      () => /stepping down as leader/.test(leader.log.slice(logBefore)),
      'the thawed leader to step down',
      15_000,
    );
    await agreedLeader();
    const thawedView = (await views([leader]))[0]!;
    assert.equal(thawedView.leading, false);
    assert.equal(thawedView.leader, (await views([successor]))[0]!.id);
    // Let the thawed replica run a few ticks: anything it still tried would land in the audit.
    const settled = Date.now() + 2000;
    await waitFor(() => Date.now() > settled, 'a few ticks', 5000, 100);

    const started = await audit(`window=${windowId}&action=window.started`);
    assert.equal(started.length, 1, `window.started entries: ${JSON.stringify(started)}`);
    for (const id of [drainId, secondId]) {
      const steps = await audit(`drain=${id}&action=drain.step`);
      const withdraws = steps.filter((e) => e.details.phase === 'withdraw');
      assert.equal(withdraws.length, 1, `drain ${id}: withdraw steps ${JSON.stringify(withdraws)}`);
      const transitions = steps
        .filter((e) => e.details.node)
        .map((e) => `${e.details.node}:${e.details.from}->${e.details.to}`);
      assert.equal(
        new Set(transitions).size,
        transitions.length,
        `drain ${id}: repeated node steps ${transitions}`,
      );
    }
  });

  it('SIGKILL the leader: another leads within about the TTL, and the dead one leaves the list', async () => {
    const leader = await agreedLeader();
    const killedAt = Date.now();
    await leader.kill9();
    const successor = await agreedLeader();
    assert.notEqual(successor, leader);
    const deadId = `r${replicas.indexOf(leader) + 1}`;
    await waitFor(
      async () => (await views()).every((v) => !v.list.includes(deadId)),
      `${deadId} to drop out of every replica's list when its lease expires`,
    );
    // Recorded for the reader, not asserted: timing on a shared machine is not a test.
    console.log(`# new leader ${Date.now() - killedAt} ms after SIGKILL (lease TTL ${LEASE_TTL_MS} ms)`);
  });
});
