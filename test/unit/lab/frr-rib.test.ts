/**
 * parseFrrRoutes reads FRR 8's `show bgp ipv4 unicast PREFIX json` answer into the route shape
 * BIRD's reader gives (test/e2e/router-policies.test.ts runs it against a real bgpd).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeCommunity, parseFrrRoutes } from '../../../src/frr/frr-rib.js';

const DRAINING = JSON.stringify({
  prefix: '198.51.100.10/32',
  paths: [
    {
      aspath: { string: '65001 65001 65001 65001', segments: [], length: 4 },
      origin: 'IGP',
      med: 1000,
      metric: 1000,
      locPrf: 0,
      valid: true,
      bestpath: { overall: true, selectionReason: 'First path received' },
      community: { string: '65000:100 graceful-shutdown', list: ['65000:100', 'gracefulShutdown'] },
      peer: { peerId: '192.0.2.1', routerId: '192.0.2.1', type: 'external' },
      nexthops: [{ ip: '192.0.2.1', afi: 'ipv4', used: true }],
    },
    {
      aspath: { string: '65002', length: 1 },
      med: 100,
      valid: true,
      peer: { peerId: '192.0.2.5' },
      nexthops: [{ ip: '192.0.2.5' }],
    },
  ],
});

describe('parseFrrRoutes', () => {
  it('reads local-pref, MED, AS path, communities (well-known names as numbers) and the best path', () => {
    const [draining, other] = parseFrrRoutes('198.51.100.10/32', DRAINING);
    assert.equal(draining!.localPref, 0);
    assert.equal(draining!.med, 1000);
    assert.deepEqual(draining!.asPath, [65001, 65001, 65001, 65001]);
    assert.deepEqual(draining!.communities, ['65000:100', '65535:0']);
    assert.equal(draining!.primary, true);
    assert.equal(draining!.protocol, '192.0.2.1');
    // FRR leaves locPrf out when nothing set it: the default 100.
    assert.equal(other!.localPref, 100);
    assert.equal(other!.primary, false);
    assert.deepEqual(other!.communities, []);
  });

  it('an empty answer, or another prefix, is no route', () => {
    assert.deepEqual(parseFrrRoutes('198.51.100.10/32', '{}\n'), []);
    assert.deepEqual(parseFrrRoutes('198.51.100.10/32', ''), []);
    assert.deepEqual(parseFrrRoutes('198.51.100.11/32', DRAINING), []);
  });

  it('vtysh printing an error instead of JSON is an error naming what came back', () => {
    assert.throws(
      () => parseFrrRoutes('198.51.100.10/32', 'Exiting: failed to connect to any daemons.'),
      /expected JSON .* received: Exiting: failed to connect/,
    );
  });

  it('normalizes well-known community names both ways FRR prints them', () => {
    assert.equal(normalizeCommunity('graceful-shutdown'), '65535:0');
    assert.equal(normalizeCommunity('gracefulShutdown'), '65535:0');
    assert.equal(normalizeCommunity('65000:100'), '65000:100');
  });
});
