/**
 * The wire schemas' address checks run in the browser too, so they cannot use node:net. Config
 * files and API requests are validated with them, so they must accept exactly what node:net does.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import fc from 'fast-check';
import { isIPv4, isIPv6 } from '../../../src/wire/ip-address.js';

const addressLike = fc.oneof(
  fc.ipV4(),
  fc.ipV4Extended(),
  fc.ipV6(),
  fc.ipV6().chain((address) => fc.string().map((zone) => `${address}%${zone}`)),
  fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF:.%_- x'.split('')) }),
);

test('isIPv4 and isIPv6 agree with node:net on addresses, near-addresses and zone ids', () => {
  fc.assert(
    fc.property(addressLike, (text) => {
      assert.equal(isIPv4(text), net.isIPv4(text), `isIPv4(${JSON.stringify(text)})`);
      assert.equal(isIPv6(text), net.isIPv6(text), `isIPv6(${JSON.stringify(text)})`);
    }),
    { numRuns: 20_000 },
  );
});

test('known cases', () => {
  for (const yes of ['198.51.100.10', '0.0.0.0']) assert.ok(isIPv4(yes), yes);
  for (const no of ['01.2.3.4', '256.1.1.1', '1.2.3', '::1']) assert.ok(!isIPv4(no), no);
  for (const yes of ['2001:db8::10', '::', '::ffff:198.51.100.1', 'fe80::1%eth0'])
    assert.ok(isIPv6(yes), yes);
  for (const no of ['1::2::3', '12345::', 'fe80::1%', 'fe80::1% x', '198.51.100.1'])
    assert.ok(!isIPv6(no), no);
});
