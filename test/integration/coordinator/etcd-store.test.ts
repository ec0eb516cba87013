/**
 * `herald coordinator` with `store: {engine: etcd}` on a real 3-member etcd cluster: a drain
 * it stored is there for a coordinator started on another host (another data dir, same
 * cluster) after the first was SIGKILLed, with its audit entry; without etcd quorum a change
 * is answered 503 with the fault named, and nothing is stored.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EtcdCluster, etcdSkip } from '../../support/etcd-cluster.js';
import { CoordinatorProcess, TOKENS, tempDir, type CoordinatorSpec, type Json } from './harness.js';

describe('coordinator on the etcd store', { skip: etcdSkip() }, () => {
  const tmp = tempDir('herald-etcd-coord-');
  let cluster: EtcdCluster;
  const started: CoordinatorProcess[] = [];
  let spec: CoordinatorSpec;

  before(
    async () => {
      cluster = await EtcdCluster.start();
      spec = {
        sites: [
          { name: 'lon1', region: 'eu', nodes: ['lon1-a'] },
          { name: 'fra1', region: 'eu', nodes: ['fra1-a'] },
          { name: 'nyc1', region: 'us', nodes: ['nyc1-a'] },
        ],
        // No agents run here: nothing announces, so the floors would refuse every drain.
        policy: { minAnnouncingSites: 0, regionFloor: false },
        extra: {
          store: {
            engine: 'etcd',
            endpoints: cluster.endpoints,
            prefix: `/herald-test-${randomBytes(6).toString('hex')}/`,
            timeout: '2s',
          },
        },
      };
    },
    { timeout: 60_000 },
  );
  after(async () => {
    for (const coordinator of started) await coordinator.kill9();
    await cluster?.stop();
    tmp.remove();
  });

  const coordinatorOn = async (host: string) => {
    const dir = join(tmp.dir, host);
    mkdirSync(dir);
    const coordinator = new CoordinatorProcess(dir, spec);
    started.push(coordinator);
    await coordinator.start();
    return coordinator;
  };

  it(
    'a stored drain outlives its coordinator; without quorum a change is refused with 503',
    { timeout: 120_000 },
    async () => {
      const first = await coordinatorOn('host-a');
      const created = await first.api('POST', '/api/v1/drains', TOKENS.alice, {
        site: 'lon1',
        reason: 'kernel upgrade',
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const id = created.body.drain.id as string;
      await first.kill9();

      const second = await coordinatorOn('host-b');
      const active = (await second.get('/api/v1/drains?status=active')).drains as Json[];
      assert.deepEqual(
        active.map((d) => [d.id, d.reason]),
        [[id, 'kernel upgrade']],
      );
      const audit = (await second.get(`/api/v1/audit?drain=${id}`, TOKENS.alice)).entries as Json[];
      assert.ok(
        audit.some((e) => e.action === 'drain.requested' && e.actor === 'alice'),
        JSON.stringify(audit),
      );

      await cluster.kill(0);
      await cluster.kill(1);
      const refused = await second.api('POST', '/api/v1/drains', TOKENS.alice, {
        site: 'nyc1',
        reason: 'no quorum',
      });
      assert.equal(refused.status, 503, JSON.stringify(refused.body));
      assert.match(
        refused.body.error.message,
        /could not store the drain: store (unreachable|timed out|connection lost)/,
      );

      cluster.restart(0);
      cluster.restart(1);
      await cluster.waitHealthy();
      const after = (await second.get('/api/v1/drains?status=active')).drains as Json[];
      assert.ok(after.some((d) => d.id === id));
      if (!/timed out|connection lost/.test(refused.body.error.message))
        assert.equal(
          after.some((d) => d.reason === 'no quorum'),
          false,
          'a change refused as unreachable is not stored',
        );
    },
  );
});
