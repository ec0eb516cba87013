/**
 * `herald coordinator` on a real 3-member etcd cluster while members die. One member killed:
 * nothing changes, a drain is accepted. Two killed (no quorum): a change is refused with a 503
 * naming the store fault, and the replica says so in /status (store.reachable false, the
 * fault) and in its log without anyone asking for a change. Quorum back: nothing was lost, the
 * replica says the store answers again, and changes work.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { EtcdCluster, etcdSkip } from '../../support/etcd-cluster.js';
import { CoordinatorProcess, TOKENS, tempDir, waitFor, type Json } from './harness.js';

describe('a coordinator replica while etcd members are lost', { skip: etcdSkip() }, () => {
  const tmp = tempDir('herald-etcd-lost-');
  let cluster: EtcdCluster;
  let coordinator: CoordinatorProcess;

  before(
    async () => {
      cluster = await EtcdCluster.start();
      coordinator = new CoordinatorProcess(tmp.dir, {
        sites: [
          { name: 'lon1', region: 'eu', nodes: ['lon1-a'] },
          { name: 'fra1', region: 'eu', nodes: ['fra1-a'] },
          { name: 'nyc1', region: 'us', nodes: ['nyc1-a'] },
        ],
        // No agents run here: nothing announces, so the floors would refuse every drain.
        policy: {
          minAnnouncingSites: 0,
          regionFloor: false,
          maxConcurrentDrains: 5,
          maxConcurrentDrainsPerRegion: 5,
        },
        extra: {
          store: {
            engine: 'etcd',
            endpoints: cluster.endpoints,
            prefix: `/herald-lost-${randomBytes(6).toString('hex')}/`,
            timeout: '1s',
            healthInterval: '300ms',
          },
        },
      });
      await coordinator.start();
    },
    { timeout: 60_000 },
  );
  after(async () => {
    await coordinator?.kill9();
    await cluster?.stop();
    tmp.remove();
  });

  const drain = (site: string, reason: string) =>
    coordinator.api('POST', '/api/v1/drains', TOKENS.alice, { site, reason });
  const store = async () => (await coordinator.get('/api/v1/status')).store as Json;

  it(
    'one member lost changes nothing; two lost refuse changes with a 503 and say so; quorum back loses nothing',
    {
      timeout: 180_000,
    },
    async () => {
      assert.deepEqual(
        { ...(await store()), since: 0 },
        { engine: 'etcd', reachable: true, since: 0, fault: null, detail: null },
      );
      const first = await drain('lon1', 'before any fault');
      assert.equal(first.status, 201, JSON.stringify(first.body));

      await cluster.kill(0);
      await cluster.waitHealthy();
      const second = await drain('fra1', 'one member down');
      assert.equal(second.status, 201, JSON.stringify(second.body));
      assert.equal((await store()).reachable, true);

      await cluster.kill(1);
      // Nobody asks for a change: the replica notices by itself and says so.
      const down = await waitFor(
        async () => {
          const s = await store();
          return s.reachable === false ? s : undefined;
        },
        'the replica to say the store is unreachable',
        15_000,
      );
      assert.match(down.fault as string, /^store (unreachable|timed out|connection lost)$/);
      assert.match(coordinator.log, /the etcd store fails \(store [a-z ]+\): changes are refused with 503/);

      const refused = await drain('nyc1', 'no quorum');
      assert.equal(refused.status, 503, JSON.stringify(refused.body));
      assert.equal(refused.body.error.code, 'store_unavailable');
      assert.match(
        refused.body.error.message,
        /could not store the drain: store (unreachable|timed out|connection lost)/,
      );
      // Reads of what this replica holds still answer: its drains are there.
      const held = (await coordinator.get('/api/v1/status')).sites as Json[];
      assert.ok(held.length === 3);

      cluster.restart(0);
      cluster.restart(1);
      await cluster.waitHealthy();
      await waitFor(
        async () => (await store()).reachable === true,
        'the replica to say the store answers again',
        15_000,
      );
      assert.match(coordinator.log, /the etcd store answers again; changes are accepted/);
      const active = (await coordinator.get('/api/v1/drains?status=active')).drains as Json[];
      assert.deepEqual(
        active.map((d) => d.reason).sort(),
        [
          'before any fault',
          'one member down',
          ...(/timed out|connection lost/.test(refused.body.error.message)
            ? active.filter((d) => d.reason === 'no quorum').map(() => 'no quorum')
            : []),
        ].sort(),
      );
      const again = await drain('nyc1', 'quorum back');
      assert.equal(again.status, 201, JSON.stringify(again.body));
      const released = await coordinator.api('POST', '/api/v1/releases', TOKENS.alice, { site: 'lon1' });
      assert.equal(released.status, 200, JSON.stringify(released.body));
    },
  );
});
