/** What the page calls each node and site: announcing, draining, drained, held down, down or stale. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classifyNode, classifySite } from '../../../src/dashboard/shared/site-state.js';
import { hold, nodeStatus, P1, P2, siteStatus } from './support/fleet-documents.js';

const fresh = { now: 100_500, staleAfterMs: null };

describe('classifyNode', () => {
  const cases: [string, Parameters<typeof nodeStatus>[1], string, RegExp][] = [
    ['acknowledged announce', {}, 'announcing', /healthy/],
    [
      'one prefix withdrawn',
      { ack: { [P2]: 'withdraw' } },
      'announcing',
      /not announcing 2001:db8:a::10\/128/,
    ],
    [
      'graceful (de-preferred) routes',
      { ack: 'graceful', state: 'DRAINING', drains: ['d-1'] },
      'draining',
      /drained by d-1/,
    ],
    ['drain withdrawn', { ack: 'withdraw', state: 'DRAINED', drains: ['d-1'] }, 'drained', /drained by d-1/],
    ['health withdrawal', { ack: 'withdraw', state: 'DOWN' }, 'down', /health: DOWN$/],
    [
      'asked to announce, ExaBGP not yet acknowledged',
      { ack: 'unknown', desired: 'announce', state: 'RISING' },
      'down',
      /waiting for ExaBGP/,
    ],
    ['coordinator says stale', { stale: true }, 'stale', /no fresh report/],
    ['never reported', { lastSeenAt: null }, 'stale', /never reported/],
  ];
  for (const [name, options, state, detail] of cases)
    test(name, () => {
      const view = classifyNode(nodeStatus('lon1-a', options), fresh);
      assert.equal(view.state, state);
      assert.match(view.detail, detail);
    });

  test('held down by flap damping with passing checks: held down, not down; failing checks: down', () => {
    const held = {
      ...nodeStatus('lon1-a', { ack: 'withdraw', state: 'RISING' }),
      healthy: true,
      holdDown: { until: 160_500, flaps: 5 },
    };
    const view = classifyNode(held, fresh);
    assert.equal(view.state, 'held-down');
    assert.equal(view.detail, 'checks pass; held down for flapping (5 flaps)');
    assert.equal(classifyNode({ ...held, healthy: false, state: 'DOWN' }, fresh).state, 'down');
    const site = classifySite(siteStatus('lon1', 'eu', [held, { ...held, name: 'lon1-b' }]), fresh);
    assert.equal(site.state, 'held-down');
    assert.equal(site.summary, 'checks pass; held down for flapping (5 flaps)');
  });

  test('a pre-drain steering or waiting for sessions is draining, still announcing', () => {
    const node = {
      ...nodeStatus('lon1-a', { drains: ['d-1'] }),
      preDrain: { phase: 'waiting' as const, threshold: 0, since: 1, steered: true, count: 3 },
    };
    const view = classifyNode(node, fresh);
    assert.equal(view.state, 'draining');
    assert.equal(view.detail, 'pre-drain waiting: 3 > 0; drained by d-1');
    assert.equal(view.announcingPrefixes.length > 0, true);
  });

  test('a stale node announces nothing, whatever its last report said', () => {
    assert.deepEqual(classifyNode(nodeStatus('lon1-a', { stale: true }), fresh).announcingPrefixes, []);
  });

  test('ages a report past staleAfterMs even before the coordinator says so', () => {
    const node = nodeStatus('lon1-a', { lastSeenAt: 80_000 });
    assert.equal(classifyNode(node, { now: 100_000, staleAfterMs: 15_000 }).state, 'stale');
    assert.equal(classifyNode(node, { now: 90_000, staleAfterMs: 15_000 }).state, 'announcing');
  });
});

describe('classifySite', () => {
  test('announcing when any fresh node announces; degraded when another is down', () => {
    const view = classifySite(
      siteStatus('lon1', 'eu', [
        nodeStatus('lon1-a'),
        nodeStatus('lon1-b', { ack: 'withdraw', state: 'DOWN' }),
      ]),
      fresh,
    );
    assert.equal(view.state, 'announcing');
    assert.equal(view.degraded, true);
    assert.equal(view.summary, '1 of 2 nodes announcing');
    assert.deepEqual(view.announcingPrefixes, [P1, P2]);
  });

  test('draining while any node holds graceful routes, with the hold named', () => {
    const view = classifySite(
      siteStatus(
        'lon1',
        'eu',
        [
          nodeStatus('lon1-a', { ack: 'graceful', state: 'DRAINING', drains: ['d-1'] }),
          nodeStatus('lon1-b', { ack: 'withdraw', state: 'DRAINED', drains: ['d-1'] }),
        ],
        [hold('d-1')],
      ),
      fresh,
    );
    assert.equal(view.state, 'draining');
    assert.equal(view.summary, 'alice: kernel upgrade');
  });

  test('drained once every fresh node withdrew for a drain (a stale node does not change that)', () => {
    const view = classifySite(
      siteStatus(
        'lon1',
        'eu',
        [
          nodeStatus('lon1-a', { ack: 'withdraw', state: 'DRAINED', drains: ['d-1'] }),
          nodeStatus('lon1-b', { stale: true }),
        ],
        [hold('d-1', { complete: true })],
      ),
      fresh,
    );
    assert.equal(view.state, 'drained');
  });

  test('down when every fresh node is withdrawn by health', () => {
    const view = classifySite(
      siteStatus('lon1', 'eu', [nodeStatus('lon1-a', { ack: 'withdraw', state: 'DOWN' })]),
      fresh,
    );
    assert.equal(view.state, 'down');
    assert.equal(view.summary, 'health: DOWN');
  });

  test('stale when no node is fresh: never shown as announcing', () => {
    const view = classifySite(
      siteStatus('lon1', 'eu', [
        nodeStatus('lon1-a', { stale: true }),
        nodeStatus('lon1-b', { lastSeenAt: null }),
      ]),
      fresh,
    );
    assert.equal(view.state, 'stale');
    assert.equal(view.summary, 'no fresh report from any of 2 nodes');
    assert.deepEqual(view.announcingPrefixes, []);
  });

  test('a site still announcing names the hold on one of its nodes', () => {
    const view = classifySite(
      siteStatus(
        'lon1',
        'eu',
        [nodeStatus('lon1-a'), nodeStatus('lon1-b', { ack: 'withdraw', state: 'DRAINED', drains: ['d-2'] })],
        [hold('d-2', { node: 'lon1-b', owner: 'bob', reason: 'disk swap' })],
      ),
      fresh,
    );
    assert.equal(view.state, 'announcing');
    assert.equal(view.summary, '1 of 2 nodes announcing; held: bob: disk swap');
  });
});
