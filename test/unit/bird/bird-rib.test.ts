/** The birdc output parser, on output captured from BIRD 2.0.12 in the lab. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { birdcError, parseBirdProtocols, parseBirdRoutes } from '../../../src/bird/bird-rib.js';

const fixture = (name: string) =>
  readFileSync(new URL(`../lab/fixtures/birdc-${name}.txt`, import.meta.url), 'utf8');

describe('parseBirdRoutes', () => {
  it('reads every candidate route of a prefix with its neighbor and attributes', () => {
    const routes = parseBirdRoutes(fixture('eu-v4'));
    assert.deepEqual(
      routes.map((r) => r.protocol),
      ['n_lon1_a', 'n_ams1_a', 'n_nyc1_a', 'n_lon1_b'],
    );
    assert.ok(routes.every((r) => r.prefix === '198.51.100.10/32' && r.table === 'master4'));
    const [lon1a, , nyc1, lon1b] = routes;
    assert.equal(lon1a!.primary, true);
    assert.equal(lon1a!.via, '192.0.2.11');
    assert.equal(lon1a!.iface, 'fabric');
    assert.equal(lon1a!.med, 100);
    assert.equal(lon1a!.localPref, 200);
    assert.deepEqual(lon1a!.asPath, [65001]);
    assert.deepEqual(lon1a!.communities, ['65001:1']);
    assert.equal(nyc1!.med, undefined, 'a route without MED has none');
    assert.equal(nyc1!.localPref, 100);
    assert.equal(lon1b!.primary, false);
    assert.deepEqual(lon1b!.communities, ['65001:2', '65535:0']);
    assert.deepEqual(lon1b!.largeCommunities, ['65001:1:2']);
    assert.deepEqual(lon1b!.asPath, [65001, 65001, 65001, 65001]);
    assert.equal(lon1b!.localPref, 0);
    assert.equal(lon1b!.nextHop, '192.0.2.12');
  });

  it('marks exactly one primary route per prefix', () => {
    for (const name of ['eu-v4', 'us-v4', 'eu-v6', 'eu-for']) {
      const primaries = parseBirdRoutes(fixture(name)).filter((r) => r.primary);
      assert.equal(primaries.length, 1, name);
    }
    assert.equal(parseBirdRoutes(fixture('us-v4')).find((r) => r.primary)?.protocol, 'n_nyc1_a');
  });

  it('reads IPv6 routes', () => {
    const routes = parseBirdRoutes(fixture('eu-v6'));
    assert.deepEqual(
      routes.map((r) => [r.prefix, r.protocol, r.via, r.table]),
      [
        ['2001:db8:a::10/128', 'n_lon1_a_v6', '2001:db8:f::11', 'master6'],
        ['2001:db8:a::10/128', 'n_ams1_a_v6', '2001:db8:f::13', 'master6'],
      ],
    );
  });

  it('keeps routes of several tables and prefixes apart', () => {
    const routes = parseBirdRoutes(fixture('eu-all'));
    const v4 = routes.filter((r) => r.table === 'master4');
    const v6 = routes.filter((r) => r.table === 'master6');
    assert.equal(v4.length, 4);
    assert.equal(v6.length, 2);
    assert.ok(v6.every((r) => r.prefix === '2001:db8:a::10/128'));
  });

  it('returns no routes for "Network not found"', () => {
    assert.deepEqual(parseBirdRoutes(fixture('notfound')), []);
    assert.equal(birdcError(fixture('notfound')), undefined);
  });

  it('reads a route header with an unreachable kind and a preference/metric pair', () => {
    // Hand-made variant of the captured layout: the forms BIRD prints for unresolved next hops.
    const text = [
      'BIRD 2.0.12 ready.',
      'Table master4:',
      '198.51.100.10/32     unreachable [n_lon1_a 2026-01-02 21:26:17] * (100/-) [AS65001i]',
      '\tType: BGP univ',
      '\tBGP.med: 7',
    ].join('\n');
    const [route] = parseBirdRoutes(text);
    assert.equal(route?.kind, 'unreachable');
    assert.equal(route?.protocol, 'n_lon1_a');
    assert.equal(route?.primary, true);
    assert.equal(route?.med, 7);
  });
});

describe('birdcError', () => {
  it('recognises a dead control socket', () => {
    assert.match(
      birdcError('Unable to connect to server control socket (/tmp/x/bird.ctl): No such file or directory') ??
        '',
      /Unable to connect/,
    );
  });
});

describe('parseBirdProtocols', () => {
  it('lists BGP sessions with their state', () => {
    const protocols = parseBirdProtocols(fixture('eu-protocols'));
    const bgp = protocols.filter((p) => p.proto === 'BGP');
    assert.equal(bgp.length, 8);
    assert.ok(bgp.every((p) => p.state === 'up' && p.info === 'Established'));
    assert.deepEqual(
      protocols.filter((p) => p.proto !== 'BGP').map((p) => p.name),
      ['device1', 'kernel4', 'kernel6'],
    );
  });
});
