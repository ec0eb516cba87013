/** How often the page re-reads the fleet to follow coordinator replicas (no event says the leader moved). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  replicaPollDue,
  replicaPollMs,
  replicasChanged,
} from '../../../src/dashboard/client/model/replica-poll.js';
import type { FleetStatus, ReplicasStatus } from '../../../src/wire/coordinator-api.js';
import { fleet, nodeStatus, siteStatus } from './support/fleet-documents.js';

function withReplicas(replicas: Partial<ReplicasStatus> | undefined): FleetStatus {
  const document = fleet([siteStatus('lon1', 'eu', [nodeStatus('lon1-a')])]);
  if (!replicas) return document;
  return {
    ...document,
    replicas: {
      engine: 'etcd',
      self: 'r1',
      leader: 'r1',
      leading: true,
      leaseTtl: 10_000,
      staleGraceRemaining: 0,
      list: [],
      ...replicas,
    },
  };
}

test('a single coordinator (SQLite, or one older than replicas) is not polled', () => {
  assert.equal(replicaPollMs(null), null);
  assert.equal(replicaPollMs(withReplicas(undefined)), null);
  assert.equal(replicaPollMs(withReplicas({ engine: 'sqlite', leaseTtl: null })), null);
  assert.equal(replicaPollDue(withReplicas({ engine: 'sqlite', leaseTtl: null }), 0, 1e9), false);
});

test('replicas on etcd are polled every half lease TTL, within 1 to 5 s', () => {
  assert.equal(replicaPollMs(withReplicas({ leaseTtl: 3000 })), 1500);
  assert.equal(replicaPollMs(withReplicas({ leaseTtl: 10_000 })), 5000);
  assert.equal(replicaPollMs(withReplicas({ leaseTtl: 60_000 })), 5000);
  assert.equal(replicaPollMs(withReplicas({ leaseTtl: 1000 })), 1000);
  assert.equal(replicaPollMs(withReplicas({ leaseTtl: null })), 5000);
});

test('a reload is due once the fleet document is older than the interval', () => {
  const document = withReplicas({ leaseTtl: 3000 });
  assert.equal(replicaPollDue(document, 10_000, 11_499), false);
  assert.equal(replicaPollDue(document, 10_000, 11_500), true);
});

test('a read fleet is applied only when what the page shows of the replicas or the store changed', () => {
  const shown = withReplicas({ leader: 'r1', staleGraceRemaining: 4000 });
  // Nodes seen again and the grace countdown: nothing to show differently.
  assert.equal(replicasChanged(shown, { ...shown, generatedAt: 200_000 }), false);
  assert.equal(replicasChanged(shown, withReplicas({ leader: 'r1', staleGraceRemaining: 1000 })), false);
  // Leadership moved, a replica left, the store failed: shown at once.
  assert.equal(replicasChanged(shown, withReplicas({ leader: null, leading: false })), true);
  assert.equal(
    replicasChanged(
      shown,
      withReplicas({ list: [{ id: 'r1', url: null, startedAt: 1, version: '0', leader: true, self: true }] }),
    ),
    true,
  );
  const storeDown = {
    ...shown,
    store: { engine: 'etcd' as const, reachable: false, since: 5, fault: 'store unreachable', detail: null },
  };
  assert.equal(replicasChanged(shown, storeDown), true);
  assert.equal(replicasChanged(null, shown), true);
});
