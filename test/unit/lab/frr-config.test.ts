/**
 * The lab's FRR router config (`--router frr`) carries the same policy as its BIRD config and
 * docs/routers/frr.conf, and FRR's own parser accepts it (`vtysh --dryrun`, when FRR is here).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { renderFrrConfig } from '../../../src/lab/frr-config.js';
import { frrRouterViewFromOutput } from '../../../src/lab/route-observer.js';
import { frrSessionStates } from '../../../src/frr/frr-rib.js';
import { planLab } from '../../../src/lab/plan.js';
import { defaultTopology } from '../../../src/lab/topology.js';

const plan = planLab({ ...defaultTopology(), router: 'frr' }, 'unit02');
const eu = plan.routers.find((r) => r.region === 'eu')!;
const config = renderFrrConfig(plan, eu, { holdTime: 3 });
const hasVtysh = !spawnSync('vtysh', ['--help']).error;

describe('renderFrrConfig', () => {
  it('peers with every node over IPv4 and IPv6, home region at 200, others at 100', () => {
    for (const node of plan.nodes) {
      assert.match(config, new RegExp(`neighbor ${node.ipv4} remote-as ${node.asn}`));
      assert.match(config, new RegExp(`neighbor ${node.ipv6.replace(/:/g, ':')} remote-as ${node.asn}`));
      const map = node.region === 'eu' ? 'FROM-HOME' : 'FROM-OTHER';
      assert.match(config, new RegExp(`neighbor ${node.ipv4} route-map ${map} in`));
    }
    assert.match(
      config,
      /route-map FROM-HOME permit 20\n match ip address prefix-list LAB-ANYCAST\n set local-preference 200/,
    );
    assert.match(
      config,
      /route-map FROM-OTHER permit 20\n match ip address prefix-list LAB-ANYCAST\n set local-preference 100/,
    );
  });

  it('RFC 8326: 65535:0 sets local-pref 0; nothing but the anycast range is accepted; nothing is sent back', () => {
    assert.match(config, /bgp community-list standard GRACEFUL-SHUTDOWN seq 5 permit graceful-shutdown/);
    assert.match(
      config,
      /route-map FROM-HOME permit 10\n match ip address prefix-list LAB-ANYCAST\n match community GRACEFUL-SHUTDOWN\n set local-preference 0/,
    );
    assert.match(config, /route-map FROM-HOME deny 100/);
    assert.match(config, /route-map TO-NODES deny 100/);
  });

  it('FRR parses it', { skip: hasVtysh ? false : 'vtysh not installed (Debian package frr)' }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-frr-config-'));
    try {
      writeFileSync(join(dir, 'bgpd.conf'), config);
      const result = spawnSync('vtysh', ['--dryrun', '--inputfile', join(dir, 'bgpd.conf')], {
        encoding: 'utf8',
      });
      assert.equal(result.status, 0, result.stdout + result.stderr);
      // A broken line is refused: the check can fail.
      writeFileSync(
        join(dir, 'broken.conf'),
        `${config}router bgp 65000\n neighbor 192.0.2.250 frobnicate\n`,
      );
      const broken = spawnSync('vtysh', ['--dryrun', '--inputfile', join(dir, 'broken.conf')], {
        encoding: 'utf8',
      });
      assert.notEqual(broken.status, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('FRR route observer pieces', () => {
  const node = plan.nodes[0]!;
  const neighbors = new Map([[node.ipv4, { node: node.name, site: node.site, region: node.region }]]);

  it('maps a path to its node by the neighbor address and flags GRACEFUL_SHUTDOWN', () => {
    const output = JSON.stringify({
      prefix: '198.51.100.10/32',
      paths: [
        {
          aspath: { string: `${node.asn} ${node.asn}` },
          locPrf: 0,
          med: 1000,
          bestpath: { overall: true },
          community: { list: ['gracefulShutdown'] },
          peer: { peerId: node.ipv4 },
        },
      ],
    });
    const view = frrRouterViewFromOutput('eu', '198.51.100.10/32', output, neighbors);
    assert.equal(view.best?.node, node.name);
    assert.equal(view.best?.site, node.site);
    assert.equal(view.best?.gracefulShutdown, true);
    assert.equal(view.best?.localPref, 0);
  });

  it('a router that answers garbage is an error view, not a crash', () => {
    const view = frrRouterViewFromOutput('eu', '198.51.100.10/32', '% Unknown command', neighbors);
    assert.match(view.error ?? '', /expected JSON/);
    assert.deepEqual(view.routes, []);
  });

  it('reads session states from show bgp summary json', () => {
    const summary = JSON.stringify({
      ipv4Unicast: { peers: { '192.0.2.11': { state: 'Established' }, '192.0.2.12': { state: 'Active' } } },
      ipv6Unicast: { peers: { '2001:db8:f::11': { state: 'Established' } } },
    });
    assert.deepEqual(frrSessionStates(summary), [
      { peer: '192.0.2.11', state: 'Established' },
      { peer: '192.0.2.12', state: 'Active' },
      { peer: '2001:db8:f::11', state: 'Established' },
    ]);
    assert.deepEqual(frrSessionStates('not json'), []);
  });
});
