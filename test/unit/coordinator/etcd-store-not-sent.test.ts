/**
 * A write no etcd member could take (an election after a member was lost or came back: "no
 * leader", "leader changed") is sent again after short pauses within the call's deadline, instead
 * of being refused at once with a 503 while the cluster is electing (CI saw a release refused
 * just after quorum came back). Only such "not sent" failures are repeated: a write that timed
 * out may have been applied, and is refused as before. The etcd client's Txn is replaced here;
 * the real cluster's behaviour is in test/integration/coordinator/etcd-members-lost.test.ts.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { GRPCDeadlineExceededError, GRPCUnavailableError } from 'etcd3';
import { EtcdStore, NOT_SENT_PAUSES_MS } from '../../../src/coordinator/store/etcd-store.js';
import { StoreWriteError } from '../../../src/coordinator/store/store.js';

const succeeded = { succeeded: true, header: { revision: '7' }, responses: [] };

/** A store (on an address nobody listens on) whose Txn answers with `answers`, in order. */
function storeAnswering(answers: (Error | typeof succeeded)[], timeoutMs: number) {
  const store = new EtcdStore({ endpoints: ['http://127.0.0.1:9'], prefix: '/herald-unit/', timeoutMs });
  let calls = 0;
  const kv = store.coordination().client.kv as unknown as { txn: () => Promise<unknown> };
  kv.txn = async () => {
    const answer = answers[Math.min(calls++, answers.length - 1)]!;
    if (answer instanceof Error) throw answer;
    return answer;
  };
  return { store, calls: () => calls };
}

describe('etcd store: a write no member could take', () => {
  const stores: EtcdStore[] = [];
  after(async () => {
    for (const store of stores) await store.close();
  });

  it('is sent again after a pause and succeeds once the election is over', async () => {
    const noLeader = new GRPCUnavailableError('14 UNAVAILABLE: etcdserver: no leader');
    const changed = new GRPCUnavailableError('14 UNAVAILABLE: etcdserver: leader changed');
    const { store, calls } = storeAnswering([noLeader, changed, succeeded], 5000);
    stores.push(store);
    assert.deepEqual(await store.commit({}), []);
    assert.equal(calls(), 3);
  });

  it('is refused as unreachable, nothing applied, once the next pause would pass the deadline', async () => {
    const noLeader = new GRPCUnavailableError('14 UNAVAILABLE: etcdserver: no leader');
    // 1000 ms: pauses of 100, 200 and 400 ms fit (700 ms), the next (800 ms) would not.
    const { store, calls } = storeAnswering([noLeader], 1000);
    stores.push(store);
    await assert.rejects(store.commit({}), (error: unknown) => {
      assert.ok(error instanceof StoreWriteError);
      assert.equal(error.fault, 'store unreachable');
      return true;
    });
    assert.equal(calls(), 4);
    assert.deepEqual(NOT_SENT_PAUSES_MS.slice(0, 3), [100, 200, 400]);
  });

  it('a write that timed out (it may have been applied) is not sent again', async () => {
    const { store, calls } = storeAnswering([new GRPCDeadlineExceededError('deadline exceeded')], 5000);
    stores.push(store);
    await assert.rejects(store.commit({}), (error: unknown) => {
      assert.ok(error instanceof StoreWriteError);
      assert.equal(error.fault, 'store timed out');
      return true;
    });
    assert.equal(calls(), 1);
  });
});
