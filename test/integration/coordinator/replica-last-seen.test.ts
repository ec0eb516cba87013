/**
 * "Last seen" of a node another replica serves is when its agent really last reported, not the
 * time of the status read. Two real `herald coordinator` processes on a real 3-member etcd; the
 * agent (its push stream and its reports, over the real HTTP API) is connected to replica A only.
 * Replica B's status shows the time A received the agent's last report; while the agent is
 * quiet (not stale yet) B's reads do not move it; a new report moves it; and A's heard key is not
 * rewritten while nothing changed.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import { heardPeriodMs } from '../../../src/coordinator/replicas/heard-times.js';
import { EtcdCluster, etcdSkip } from '../../support/etcd-cluster.js';
import { report } from '../../unit/coordinator/fixtures.js';
import { CoordinatorProcess, PREFIX, tempDir, TOKENS, waitFor, type Json } from './harness.js';

const sites = [
  { name: 'lon1', region: 'eu', nodes: ['lon1-a'] },
  { name: 'nyc1', region: 'us', nodes: ['nyc1-a'] },
];
const NODE = 'lon1-a';
/** Long enough that the agent stays fresh through its quiet spell below. */
const STALE_AFTER_MS = 20_000;
const PERIOD_MS = heardPeriodMs(STALE_AFTER_MS);
/** What a wait allows on a loaded machine: a few periods and the watch's delivery. */
const SHARE_BOUND_MS = 20_000;

describe('coordinator replicas on etcd: last seen of a node served elsewhere', { skip: etcdSkip() }, () => {
  let cluster: EtcdCluster;
  let etcd: Etcd3;
  const dirs: { remove(): void }[] = [];
  const prefix = `/herald-seen-${randomBytes(4).toString('hex')}/`;
  const stream = new AbortController();
  let a: CoordinatorProcess;
  let b: CoordinatorProcess;

  before(async () => {
    cluster = await EtcdCluster.start();
    etcd = new Etcd3({ hosts: cluster.endpoints });
    [a, b] = ['rA', 'rB'].map((replicaId) => {
      const dir = tempDir(`herald-seen-${replicaId}-`);
      dirs.push(dir);
      return new CoordinatorProcess(dir.dir, {
        sites,
        policy: { minAnnouncingSites: 0, regionFloor: false },
        extra: {
          agents: { staleAfter: STALE_AFTER_MS, keepalive: 500 },
          store: { engine: 'etcd', endpoints: cluster.endpoints, prefix, leaseTtl: 3000, replicaId },
        },
      });
    }) as [CoordinatorProcess, CoordinatorProcess];
    await Promise.all([a.start(), b.start()]);
  });

  after(async () => {
    stream.abort();
    etcd?.close();
    await a?.kill9();
    await b?.kill9();
    await cluster?.stop();
    for (const dir of dirs) dir.remove();
  });

  /** One report from the agent to replica A; returns the wall-clock span it was received in. */
  async function reportToA(): Promise<{ sentAt: number; answeredAt: number }> {
    const sentAt = Date.now();
    const { status } = report(NODE, 'lon1', [
      { prefix: PREFIX, desired: 'announce', acknowledged: 'announce' },
    ]);
    const answer = await a.api('POST', `/api/v1/agents/${NODE}/report`, TOKENS.agent(NODE), status);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return { sentAt, answeredAt: Date.now() };
  }

  async function nodeOn(replica: CoordinatorProcess): Promise<{ node: Json; generatedAt: number }> {
    const status = await replica.get('/api/v1/status');
    const node = (status.sites as Json[]).flatMap((s) => s.nodes as Json[]).find((n) => n.name === NODE);
    return { node, generatedAt: status.generatedAt as number };
  }

  /** The version of A's heard key (how many times A wrote it under its current lease). */
  async function heardKeyVersion(): Promise<string | undefined> {
    return (await etcd.get(`${prefix}heard/rA`).exec()).kvs[0]?.version;
  }

  it("shows the agent's last report as A received it, not moving with B's reads while the agent is quiet", async () => {
    // The agent's push stream on A: its node is served by A (what the board says).
    const desired = await fetch(`${a.url}/api/v1/agents/${NODE}/desired`, {
      headers: { authorization: `Bearer ${TOKENS.agent(NODE)}` },
      signal: stream.signal,
    });
    assert.equal(desired.status, 200);
    void desired.body!.pipeTo(new WritableStream()).catch(() => undefined);

    let last = await reportToA();
    for (let i = 0; i < 3; i++) last = await reportToA();

    // B shows A's node once the board and A's heard key reached it, with A's time of the last report.
    const shared = await waitFor(
      async () => {
        const seen = await nodeOn(b);
        return seen.node.servedBy === 'rA' && seen.node.lastSeenAt >= last.sentAt ? seen : undefined;
      },
      "replica B to show lon1-a served by rA, last seen at A's last report",
      SHARE_BOUND_MS,
    );
    const truth = (await nodeOn(a)).node.lastSeenAt as number;
    assert.ok(truth >= last.sentAt && truth <= last.answeredAt, `A received it in the request: ${truth}`);
    assert.equal(shared.node.lastSeenAt, truth, "B shows A's receive time of the last report, exactly");
    assert.equal(shared.node.stale, false);

    // Quiet: no report for two heard periods. B's reads go on; its last-seen time does not move,
    // and A does not rewrite its heard key (nothing changed).
    const version = await heardKeyVersion();
    assert.ok(version, "A's heard key is on etcd");
    const reads: { lastSeenAt: number; generatedAt: number }[] = [];
    await waitFor(
      async () => {
        const seen = await nodeOn(b);
        assert.equal(seen.node.stale, false, 'still fresh: the quiet spell is shorter than staleAfter');
        reads.push({ lastSeenAt: seen.node.lastSeenAt as number, generatedAt: seen.generatedAt });
        return seen.generatedAt >= truth + 2 * PERIOD_MS;
      },
      'two heard periods of quiet, read on B',
      SHARE_BOUND_MS,
      200,
    );
    assert.ok(reads.length >= 2, `several reads: ${reads.length}`);
    for (const read of reads) assert.equal(read.lastSeenAt, truth, `a read at ${read.generatedAt}`);
    const lastRead = reads.at(-1)!;
    assert.ok(
      lastRead.generatedAt - lastRead.lastSeenAt >= 2 * PERIOD_MS,
      `the age B shows grows with the quiet: ${lastRead.generatedAt - lastRead.lastSeenAt} ms`,
    );
    assert.equal(await heardKeyVersion(), version, 'no write of the heard key while no time changed');

    // A new report moves it, on B too, to A's receive time of it (never beyond it).
    const next = await reportToA();
    const moved = await waitFor(
      async () => {
        const seen = await nodeOn(b);
        return seen.node.lastSeenAt > truth ? seen : undefined;
      },
      "B's last seen to move with the agent's next report",
      SHARE_BOUND_MS,
    );
    const newTruth = (await nodeOn(a)).node.lastSeenAt as number;
    assert.ok(newTruth >= next.sentAt && newTruth <= next.answeredAt);
    assert.equal(moved.node.lastSeenAt, newTruth);
  });
});
