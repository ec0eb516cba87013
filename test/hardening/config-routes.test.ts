/**
 * Found by the injection property: values the agent's config schema accepted but ExaBGP's command
 * builder refuses. `herald check` passed them, and the running agent then threw the first time the
 * node turned healthy (and again after every respawn, until ExaBGP gave up on the helper). Now
 * the config is refused up front, naming the field.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateAgentConfig } from '../../src/agent/agent-config-check.js';
import { ConfigError } from '../../src/config/load.js';
import { assertClearProblems } from './properties/config.js';

const base = {
  node: 'lon1-a',
  site: 'lon1',
  prefixes: ['198.51.100.10/32', '2001:db8::10/128'],
  checks: [{ name: 'tcp', type: 'tcp', port: 5060 }],
};

const cases: [string, Record<string, unknown>, RegExp][] = [
  [
    'the unspecified IPv6 next hop',
    { bgp: { localAs: 65001, nextHop6: '::' } },
    /^bgp\.nextHop6: expected a usable address/,
  ],
  [
    'the unspecified IPv4 next hop',
    { bgp: { localAs: 65001, nextHop: '0.0.0.0', nextHop6: '2001:db8::1' } },
    /^bgp\.nextHop: expected a usable address/,
  ],
  [
    'a next hop with a zone',
    { bgp: { localAs: 65001, nextHop6: 'fe80::1%eth0' } },
    /^bgp\.nextHop6: expected an IPv4 or IPv6 address/,
  ],
  [
    'a neighbor with a zone',
    { bgp: { localAs: 65001, nextHop6: '2001:db8::1', neighbors: ['fe80::2%eth0'] } },
    /^bgp\.neighbors\.0: expected an IPv4 or IPv6 address/,
  ],
  [
    'a prefix with a zone',
    { prefixes: ['fe80::%eth0/128'], bgp: { localAs: 65001, nextHop6: '2001:db8::1' } },
    /^prefixes\.0: expected an IPv4 or IPv6 prefix/,
  ],
  [
    'so many communities that a command exceeds 4095 characters',
    {
      bgp: {
        localAs: 65001,
        nextHop6: '2001:db8::1',
        communities: Array.from({ length: 400 }, () => '65000:65000'),
      },
    },
    /^bgp: expected at most 4095 characters/,
  ],
];

for (const [what, fields, expected] of cases)
  test(`a config with ${what} is refused, naming the field`, () => {
    assert.throws(
      () => validateAgentConfig({ ...base, ...fields }, 'agent.yaml'),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError, String(error));
        assertClearProblems(error.problems);
        assert.equal(error.problems.length, 1, error.problems.join('\n'));
        assert.match(error.problems[0]!, expected);
        return true;
      },
    );
  });

test('a drain prepend far over its limit is refused without building a path of that length', () => {
  assert.throws(
    () =>
      validateAgentConfig(
        { ...base, bgp: { localAs: 65001, nextHop6: '2001:db8::1', drainPrepend: 4_000_000_000 } },
        'agent.yaml',
      ),
    (error: unknown) =>
      error instanceof ConfigError && /^bgp\.drainPrepend: expected at most 10/.test(error.problems[0]!),
  );
});
