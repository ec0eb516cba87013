/** Choosing a management subnet the root namespace does not use (this very machine's LAN is 192.0.2.0/24). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { overlaps, routeDestinations } from '../../../src/lab/network.js';

describe('routeDestinations', () => {
  it('reads destinations of every route type and skips defaults and IPv6', () => {
    const output = [
      'default via 192.0.2.1 dev eth0',
      '192.0.2.0/24 dev eth0 proto kernel scope link src 192.0.2.2',
      'local 192.0.2.2 dev eth0 table local proto kernel scope host src 192.0.2.2',
      'broadcast 192.0.2.255 dev eth0 table local proto kernel scope link src 192.0.2.2',
      'unreachable 198.51.100.0/24 proto static',
      '198.51.100.128/27 dev hlabc123 proto kernel scope link src 198.51.100.158',
    ].join('\n');
    assert.deepEqual(routeDestinations(output), [
      '192.0.2.0/24',
      '192.0.2.2',
      '192.0.2.255',
      '198.51.100.0/24',
      '198.51.100.128/27',
    ]);
  });
});

describe('overlaps', () => {
  it('tells overlapping IPv4 prefixes from disjoint ones', () => {
    assert.equal(overlaps('198.51.100.0/24', '198.51.100.160/27'), true, 'covering');
    assert.equal(overlaps('198.51.100.190', '198.51.100.160/27'), true, 'inside');
    assert.equal(overlaps('198.51.100.192', '198.51.100.160/27'), false, 'just after');
    assert.equal(overlaps('198.51.100.10', '198.51.100.128/27'), false, 'the anycast address');
    assert.equal(overlaps('192.0.2.0/24', '198.51.100.128/27'), false);
    assert.equal(overlaps('0.0.0.0/0', '203.0.113.224/27'), true);
    assert.equal(overlaps('203.0.113.0/25', '203.0.113.128/27'), false, 'the client subnets');
  });
});
