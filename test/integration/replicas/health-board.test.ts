/**
 * The shared node health on a real 3-member etcd: a replica writes an agent's state only when it
 * changes (the etcd key's version counts the writes, however many heartbeats came), every
 * replica's merged view shows it, and when the replica that wrote it dies its entries expire
 * with its lease.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import { EventBus, type AgentEventData } from '../../../src/coordinator/events.js';
import { EtcdHealthBoard } from '../../../src/coordinator/replicas/health-board.js';
import { ReplicaLease } from '../../../src/coordinator/replicas/replica-lease.js';
import { createLogger } from '../../../src/util/log.js';
import { EtcdCluster, etcdSkip } from '../../support/etcd-cluster.js';

const quiet = createLogger('health-board-test', 'silent');

async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('shared node health on etcd', { skip: etcdSkip() }, () => {
  let cluster: EtcdCluster;
  const clients: Etcd3[] = [];
  const prefix = `/herald-board-${randomBytes(4).toString('hex')}/`;

  before(async () => {
    cluster = await EtcdCluster.start();
  });
  after(async () => {
    for (const client of clients) client.close();
    await cluster?.stop();
  });

  /** One replica: its own client, lease (2 s TTL), event bus and board. */
  async function replica(id: string) {
    const client = new Etcd3({ hosts: cluster.endpoints });
    clients.push(client);
    const lease = new ReplicaLease(client, 2, quiet, 5000);
    await lease.start();
    const events = new EventBus();
    const board = new EtcdHealthBoard(client, prefix, lease, id, events, quiet);
    await board.start();
    return { client, lease, events, board };
  }

  function agent(overrides: Partial<AgentEventData> = {}): AgentEventData {
    return {
      node: 'lon1-a',
      site: 'lon1',
      state: 'healthy',
      healthy: true,
      announcing: ['192.0.2.1/32'],
      stale: false,
      connected: true,
      lastSeenAt: Date.now(),
      ...overrides,
    };
  }

  it('writes on change only, is seen by every replica, and expires with its replica', async () => {
    const a = await replica('replica-a');
    const b = await replica('replica-b');
    a.events.emit('agent.connected', agent());
    // 50 heartbeats that change nothing but the time they were seen.
    for (let i = 0; i < 50; i++) a.events.emit('agent.report', agent({ lastSeenAt: Date.now() + i }));
    await a.board.idle();
    const key = `${prefix}health/lon1-a`;
    const first = await a.client.get(key).exec();
    assert.equal(first.kvs[0]?.version, '1', 'one etcd write for one state over 50 heartbeats');
    await until(
      () => b.board.otherReplicasHealth().get('lon1-a')?.replica === 'replica-a',
      'replica-b to see lon1-a',
    );
    assert.deepEqual(b.board.otherReplicasHealth().get('lon1-a')?.announcing, ['192.0.2.1/32']);
    // The replica that serves it reads it from its agent's reports, never from its own entry
    // (which lags them by a write).
    assert.equal(a.board.otherReplicasHealth().has('lon1-a'), false);
    // What B says on its own event stream (agent.elsewhere): the node changed, once per change.
    assert.deepEqual(b.board.changedElsewhere(), [{ node: 'lon1-a', site: 'lon1', replica: 'replica-a' }]);
    assert.deepEqual(b.board.changedElsewhere(), []);
    assert.deepEqual(a.board.changedElsewhere(), [], 'its own agents are told by their own events');

    // A real change (withdrawn) is one more write; repeating it is none.
    for (let i = 0; i < 10; i++)
      a.events.emit('agent.report', agent({ state: 'down', healthy: false, announcing: [] }));
    await a.board.idle();
    const second = await a.client.get(key).exec();
    assert.equal(second.kvs[0]?.version, '2');
    await until(
      () => b.board.otherReplicasHealth().get('lon1-a')?.state === 'down',
      'replica-b to see the change',
    );
    // Ticks that found the board unchanged in between do not swallow a change that came later.
    assert.deepEqual(b.board.changedElsewhere(), [{ node: 'lon1-a', site: 'lon1', replica: 'replica-a' }]);
    assert.deepEqual(b.board.changedElsewhere(), []);
    assert.equal(a.board.writes, 2);

    // Replica A dies without a word (its keepalives stop): the entry expires with its lease.
    a.lease.removeAllListeners();
    (a.lease as unknown as { timer: NodeJS.Timeout }).timer.unref();
    clearInterval((a.lease as unknown as { timer: NodeJS.Timeout }).timer);
    await until(
      () => !b.board.otherReplicasHealth().has('lon1-a'),
      'lon1-a to expire with replica-a',
      10_000,
    );
    assert.deepEqual(
      b.board.changedElsewhere(),
      [{ node: 'lon1-a', site: 'lon1', replica: null }],
      'an entry gone with its replica is a change too',
    );
    await b.board.stop();
    await b.lease.stop();
    await a.board.stop();
  });

  it('more nodes changing at once than etcd takes in one Txn all reach the other replica, each with its latest state', async () => {
    // etcd refuses a Txn of more than 128 operations: 300 agents connecting together (a replica
    // restart) must be written in several, and a node that changed again before its write must
    // end with its latest state.
    const c = await replica('replica-c');
    const d = await replica('replica-d');
    const nodes = Array.from({ length: 300 }, (_, i) => `big-${String(i).padStart(3, '0')}`);
    for (const node of nodes) c.events.emit('agent.connected', agent({ node, site: 'big' }));
    for (const node of nodes)
      c.events.emit(
        'agent.report',
        agent({ node, site: 'big', state: 'down', healthy: false, announcing: [] }),
      );
    await c.board.idle();
    await until(
      () => nodes.every((node) => d.board.otherReplicasHealth().get(node)?.state === 'down'),
      'replica-d to see all 300 nodes down',
    );
    assert.ok(c.board.writes >= 300 && c.board.writes <= 600, `writes: ${c.board.writes}`);
    await d.board.stop();
    await c.board.stop();
    await d.lease.stop();
    await c.lease.stop();
  });
});
