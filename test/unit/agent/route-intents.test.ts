import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { announcementOf, routeIntent } from '../../../src/agent/route-intents.js';
import { bgpSchema } from '../../../src/config/agent-schema.js';

const bgp = bgpSchema.parse({
  localAs: 65001,
  nextHop6: '2001:db8:f::1',
  communities: ['65000:100'],
  largeCommunities: ['65000:1:2'],
});

describe('route intents', () => {
  test('healthy: normal MED and communities, no prepend', () => {
    assert.deepEqual(routeIntent('198.51.100.10/32', 'announce', bgp), {
      prefix: '198.51.100.10/32',
      action: 'announce',
      attributes: { nextHop: 'self', med: 100, communities: ['65000:100'], largeCommunities: ['65000:1:2'] },
    });
  });

  test('draining: GRACEFUL_SHUTDOWN 65535:0, the drain MED and our AS prepended', () => {
    const intent = routeIntent('198.51.100.10/32', 'graceful', bgp);
    assert.equal(intent.action, 'announce');
    assert.deepEqual(intent.action === 'announce' && intent.attributes, {
      nextHop: 'self',
      med: 1000,
      communities: ['65000:100', '65535:0'],
      largeCommunities: ['65000:1:2'],
      asPath: [65001, 65001, 65001, 65001],
    });
    assert.equal(announcementOf(intent), 'graceful');
  });

  test('IPv6 prefixes use the IPv6 next hop', () => {
    const intent = routeIntent('2001:db8::10/128', 'announce', bgp);
    assert.equal(intent.action === 'announce' && intent.attributes.nextHop, '2001:db8:f::1');
  });

  test('withdraw carries no attributes', () => {
    assert.deepEqual(routeIntent('198.51.100.10/32', 'withdraw', bgp), {
      prefix: '198.51.100.10/32',
      action: 'withdraw',
    });
  });
});
