/** The header's "safe to drain another site?" hint: floors per prefix and drain slots. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { computeHeadroom } from '../../../src/dashboard/shared/drain-headroom.js';
import { classifySite } from '../../../src/dashboard/shared/site-state.js';
import type { FleetStatus } from '../../../src/wire/coordinator-api.js';
import { fleet, hold, nodeStatus, P1, P2, siteStatus } from './support/fleet-documents.js';

function headroom(document: FleetStatus) {
  const views = new Map(
    document.sites.map((s) => [s.name, classifySite(s, { now: 100_000, staleAfterMs: null })]),
  );
  return computeHeadroom(document, views);
}

test('safe with room above the floor and a free drain slot', () => {
  const result = headroom(
    fleet([
      siteStatus('lon1', 'eu', [nodeStatus('lon1-a')]),
      siteStatus('fra1', 'eu', [nodeStatus('fra1-a')]),
      siteStatus('nyc1', 'us', [nodeStatus('nyc1-a')]),
    ]),
  );
  assert.equal(result.safe, true);
  assert.equal(result.announcingSites, 3);
  assert.deepEqual(result.prefixes, [
    { prefix: P1, sites: 3 },
    { prefix: P2, sites: 3 },
  ]);
  assert.deepEqual(result.regionsAtLastSite, ['us']);
});

test('not safe when one more drain would take a prefix below the floor', () => {
  const result = headroom(
    fleet([
      siteStatus('lon1', 'eu', [nodeStatus('lon1-a')]),
      siteStatus('fra1', 'eu', [nodeStatus('fra1-a', { ack: { [P2]: 'withdraw' } })]),
      siteStatus('nyc1', 'us', [nodeStatus('nyc1-a')]),
    ]),
  );
  assert.equal(result.safe, false);
  assert.deepEqual(result.blockers, [
    `Draining one more site would leave 1 announcing ${P2}, below the floor of 2.`,
  ]);
});

test('not safe when every drain slot is taken; draining sites still count as announcing', () => {
  const result = headroom(
    fleet([
      siteStatus(
        'lon1',
        'eu',
        [nodeStatus('lon1-a', { ack: 'graceful', state: 'DRAINING', drains: ['d-1'] })],
        [hold('d-1')],
      ),
      siteStatus('fra1', 'eu', [nodeStatus('fra1-a')]),
      siteStatus('ams1', 'eu', [nodeStatus('ams1-a')]),
      siteStatus('nyc1', 'us', [nodeStatus('nyc1-a')]),
    ]),
  );
  assert.equal(result.announcingSites, 4);
  assert.equal(result.safe, false);
  assert.deepEqual(result.blockers, ['1 site already under drain (lon1); the limit is 1.']);
});

test('stale and down sites do not count toward the floor', () => {
  const result = headroom(
    fleet([
      siteStatus('lon1', 'eu', [nodeStatus('lon1-a', { stale: true })]),
      siteStatus('fra1', 'eu', [nodeStatus('fra1-a', { ack: 'withdraw', state: 'DOWN' })]),
      siteStatus('nyc1', 'us', [nodeStatus('nyc1-a')]),
    ]),
  );
  assert.equal(result.announcingSites, 1);
  assert.equal(result.safe, false);
});
