/**
 * A decision stored through one replica reaches another at once, by the watch on the store's
 * decision key, not at that replica's next read interval. Two real `herald coordinator`
 * processes on a real 3-member etcd, with `store.healthInterval` at 60 s: a replica that does not
 * lead reads the store on its own only every minute, so a drain or a release made through the
 * leader can show on it within seconds only through the watch.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { EtcdCluster, etcdSkip } from '../../support/etcd-cluster.js';
import { CoordinatorProcess, tempDir, TOKENS, waitFor, type Json } from './harness.js';

const sites = [
  { name: 'lon1', region: 'eu', nodes: ['lon1-a'] },
  { name: 'nyc1', region: 'us', nodes: ['nyc1-a'] },
];
/** Far longer than any wait below: the interval read cannot be what delivers the decision. */
const HEALTH_INTERVAL_MS = 60_000;
/** What each wait allows: a watch event and one read, on a loaded machine. */
const WATCH_BOUND_MS = 15_000;

describe(
  'coordinator replicas on etcd: decisions reach the other replica by watch',
  { skip: etcdSkip() },
  () => {
    let cluster: EtcdCluster;
    const dirs: { remove(): void }[] = [];
    const replicas: CoordinatorProcess[] = [];
    const prefix = `/herald-watch-${randomBytes(4).toString('hex')}/`;

    before(async () => {
      cluster = await EtcdCluster.start();
      for (let i = 1; i <= 2; i++) {
        const dir = tempDir(`herald-watch-r${i}-`);
        dirs.push(dir);
        replicas.push(
          new CoordinatorProcess(dir.dir, {
            sites,
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
                prefix,
                leaseTtl: 3000,
                healthInterval: HEALTH_INTERVAL_MS,
                replicaId: `r${i}`,
              },
            },
          }),
        );
      }
      await Promise.all(replicas.map((r) => r.start()));
    });

    after(async () => {
      for (const replica of replicas) await replica.kill9();
      await cluster?.stop();
      for (const dir of dirs) dir.remove();
    });

    async function leaderAndFollower(): Promise<[CoordinatorProcess, CoordinatorProcess]> {
      const leaderId = await waitFor(
        async () => {
          const seen = await Promise.all(replicas.map((r) => r.get('/api/v1/status')));
          const leading = seen.filter((s) => s.replicas.leading);
          if (leading.length !== 1) return undefined;
          return seen.every((s) => s.replicas.leader === leading[0]!.replicas.self)
            ? (leading[0]!.replicas.self as string)
            : undefined;
        },
        'one leader both replicas name',
        30_000,
      );
      const leader = replicas[Number(leaderId.slice(1)) - 1]!;
      return [leader, replicas.find((r) => r !== leader)!];
    }

    /**
     * The drains a replica holds on a site, as its status shows them: what it adopted into memory
     * (what its agents are sent), unlike the drain list, which reads the store on every request.
     */
    async function holdsOn(replica: CoordinatorProcess, site: string): Promise<Json[]> {
      const status = await replica.get('/api/v1/status');
      return (status.sites as Json[]).find((s) => s.name === site)!.holds as Json[];
    }

    it('a drain and its release made through the leader show on the other replica without its interval read', async () => {
      const [leader, follower] = await leaderAndFollower();
      const asked = await leader.api('POST', '/api/v1/drains', TOKENS.alice, {
        site: 'nyc1',
        reason: 'kernel upgrade',
      });
      assert.equal(asked.status, 201, JSON.stringify(asked.body));
      const id = asked.body.drain.id as string;
      await waitFor(
        async () => (await holdsOn(follower, 'nyc1')).some((h) => h.drainId === id),
        `drain ${id} held on nyc1 by the replica that neither made nor leads it`,
        WATCH_BOUND_MS,
      );
      assert.equal((await holdsOn(follower, 'nyc1')).find((h) => h.drainId === id)!.reason, 'kernel upgrade');

      const released = await leader.api(
        'POST',
        `/api/v1/drains/${encodeURIComponent(id)}/release`,
        TOKENS.alice,
        {
          reason: 'done',
        },
      );
      assert.ok(released.status < 300, JSON.stringify(released.body));
      await waitFor(
        async () => !(await holdsOn(follower, 'nyc1')).some((h) => h.drainId === id),
        `the release of ${id} on the other replica`,
        WATCH_BOUND_MS,
      );
    });
  },
);
