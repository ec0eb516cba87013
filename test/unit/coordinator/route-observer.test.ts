/**
 * The BIRD route observer: paths in `birdc show route PREFIX all` output (captured from BIRD
 * 2.0.12 peered with ExaBGP 4.2) map to nodes by protocol name or neighbor address; birdc
 * failures are errors (a node is never "verified" because BIRD could not be asked).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { birdObserverSchema, coordinatorConfigSchema } from '../../../src/coordinator/config-schema.js';
import {
  BirdRouteObserver,
  createRouteObserver,
  FrrRouteObserver,
  nodesInBirdOutput,
  nodesInFrrOutput,
} from '../../../src/coordinator/route-observer.js';

const P = '198.51.100.10/32';
const ONE_PATH = `BIRD 2.0.12 ready.
Table master4:
198.51.100.10/32     unicast [pop1 21:21:09.500] * (100) [AS65001i]
\tvia 192.0.2.1 on hcx7223c1
\tType: BGP univ
\tBGP.origin: IGP
\tBGP.as_path: 65001 65001
\tBGP.next_hop: 192.0.2.1
\tBGP.med: 100
\tBGP.local_pref: 100
\tBGP.community: (65000,1) (65535,0)
`;
const TWO_PATHS =
  ONE_PATH +
  `                     unicast [pop2 21:21:10.100] (100) [AS65001i]
\tvia 192.0.2.5 on hcx7223c2
\tType: BGP univ
\tBGP.origin: IGP
\tBGP.as_path: 65001
\tBGP.next_hop: 192.0.2.5
\tBGP.med: 100
\tBGP.local_pref: 100
`;

const config = { neighbors: { '192.0.2.1': 'lon1-a' }, protocols: { pop2: 'lon1-b' } };

describe('BIRD route observer', () => {
  it('maps every path of the prefix to its node, by neighbor address or protocol', () => {
    assert.deepEqual([...nodesInBirdOutput(TWO_PATHS, P, config)].sort(), ['lon1-a', 'lon1-b']);
    assert.deepEqual([...nodesInBirdOutput(ONE_PATH, P, config)], ['lon1-a']);
    assert.deepEqual([...nodesInBirdOutput(ONE_PATH, P, { neighbors: {}, protocols: {} })], ['?pop1']);
  });

  it('an absent route is an empty set; birdc failures are errors', () => {
    assert.deepEqual([...nodesInBirdOutput('BIRD 2.0.12 ready.\nNetwork not found\n', P, config)], []);
    assert.throws(() =>
      nodesInBirdOutput('Unable to connect to server control socket (/x): No such file', P, config),
    );
  });

  it('asks every socket and unions what the routers see', async () => {
    const observerConfig = birdObserverSchema.parse({
      type: 'bird',
      sockets: ['/run/r1.ctl', '/run/r2.ctl'],
      ...config,
    });
    const asked: string[] = [];
    const observer = new BirdRouteObserver(observerConfig, async (socket, command) => {
      asked.push(`${socket} ${command}`);
      return socket === '/run/r1.ctl' ? ONE_PATH : 'BIRD 2.0.12 ready.\nNetwork not found\n';
    });
    assert.deepEqual([...(await observer.announcingNodes(P))], ['lon1-a']);
    assert.deepEqual(asked, [`/run/r1.ctl show route ${P} all`, `/run/r2.ctl show route ${P} all`]);
  });
});

describe('FrrRouteObserver', () => {
  const frrAnswer = (peers: string[]) =>
    JSON.stringify({
      prefix: '198.51.100.10/32',
      paths: peers.map((peer, i) => ({ peer: { peerId: peer }, bestpath: { overall: i === 0 } })),
    });

  it('maps FRR paths to nodes by peer address; unknown peers are named', () => {
    assert.deepEqual(
      [
        ...nodesInFrrOutput(frrAnswer(['192.0.2.11', '192.0.2.99']), '198.51.100.10/32', {
          '192.0.2.11': 'lon1-a',
        }),
      ],
      ['lon1-a', '?192.0.2.99'],
    );
    assert.deepEqual([...nodesInFrrOutput('{}', '198.51.100.10/32', {})], []);
  });

  it('asks every router over vtysh (the family of the prefix) and unions what they see', async () => {
    const config = coordinatorConfigSchema.shape.routeObserver
      .unwrap()
      .parse({ type: 'frr', vtySockets: ['/run/r1', '/run/r2'], neighbors: { '192.0.2.11': 'lon1-a' } });
    assert.equal(config.type, 'frr');
    const asked: string[] = [];
    const observer = createRouteObserver(config);
    assert.ok(observer instanceof FrrRouteObserver);
    const stubbed = new FrrRouteObserver(config, async (dir, command) => {
      asked.push(`${dir} ${command}`);
      return dir === '/run/r1' ? frrAnswer(['192.0.2.11']) : '{}';
    });
    assert.deepEqual([...(await stubbed.announcingNodes('198.51.100.10/32'))], ['lon1-a']);
    assert.deepEqual(asked, [
      '/run/r1 show bgp ipv4 unicast 198.51.100.10/32 json',
      '/run/r2 show bgp ipv4 unicast 198.51.100.10/32 json',
    ]);
  });

  it('a router that cannot be read rejects (the drain stays unverified)', async () => {
    const config = coordinatorConfigSchema.shape.routeObserver
      .unwrap()
      .parse({ type: 'frr', vtySockets: ['/run/r1'] });
    assert.equal(config.type, 'frr');
    const observer = new FrrRouteObserver(config, async () => 'Exiting: failed to connect to any daemons.');
    await assert.rejects(
      observer.announcingNodes('198.51.100.10/32'),
      /vtysh --vty_socket \/run\/r1: .*expected JSON/,
    );
  });

  it('the config names a wrong field clearly', () => {
    const result = coordinatorConfigSchema.shape.routeObserver
      .unwrap()
      .safeParse({ type: 'frr', sockets: ['/x'] });
    assert.equal(result.success, false);
  });
});
