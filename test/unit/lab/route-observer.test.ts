/** The route observer's view of a lab: which nodes announce, which is best, graceful shutdown. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { planLab } from '../../../src/lab/plan.js';
import { labPaths } from '../../../src/lab/paths.js';
import {
  announcingNodes,
  announcingSites,
  bestNode,
  bestSite,
  describeSnapshot,
  isAnnouncedBy,
  isWithdrawnBy,
  RouteObserver,
  routerViewFromOutput,
  routesOf,
  sessionsFromOutput,
  type NeighborInfo,
} from '../../../src/lab/route-observer.js';
import { defaultTopology } from '../../../src/lab/topology.js';

const fixture = (name: string) =>
  readFileSync(new URL(`./fixtures/birdc-${name}.txt`, import.meta.url), 'utf8');

const neighbors = new Map<string, NeighborInfo>([
  ['n_lon1_a', { node: 'lon1-a', site: 'lon1', region: 'eu' }],
  ['n_lon1_b', { node: 'lon1-b', site: 'lon1', region: 'eu' }],
  ['n_ams1_a', { node: 'ams1-a', site: 'ams1', region: 'eu' }],
  ['n_nyc1_a', { node: 'nyc1-a', site: 'nyc1', region: 'us' }],
]);

describe('routerViewFromOutput', () => {
  it('maps each route to its node and flags GRACEFUL_SHUTDOWN', () => {
    const view = routerViewFromOutput('eu', '198.51.100.10/32', fixture('eu-v4'), neighbors);
    assert.equal(view.best?.node, 'lon1-a');
    assert.equal(view.best?.site, 'lon1');
    const lon1b = view.routes.find((r) => r.node === 'lon1-b');
    assert.equal(lon1b?.gracefulShutdown, true);
    assert.equal(view.routes.filter((r) => r.gracefulShutdown).length, 1);
  });

  it('only counts routes for exactly the asked prefix', () => {
    const view = routerViewFromOutput('eu', '198.51.100.10/32', fixture('eu-all'), neighbors);
    assert.equal(view.routes.length, 4);
    const none = routerViewFromOutput('eu', '198.51.100.99/32', fixture('eu-all'), neighbors);
    assert.deepEqual(none.routes, []);
    assert.equal(none.best, undefined);
  });

  it('reports a router that cannot be asked as an error, not as "no route"', () => {
    const view = routerViewFromOutput(
      'eu',
      '198.51.100.10/32',
      'Unable to connect to server control socket (/x/bird.ctl): Connection refused',
      neighbors,
    );
    assert.ok(view.error);
  });
});

describe('snapshot helpers', () => {
  const snapshot = {
    prefix: '198.51.100.10/32',
    at: 0,
    routers: [
      routerViewFromOutput('eu', '198.51.100.10/32', fixture('eu-v4'), neighbors),
      routerViewFromOutput('us', '198.51.100.10/32', fixture('us-v4'), neighbors),
    ],
  };

  it('answers who announces and where each region goes', () => {
    assert.deepEqual(announcingNodes(snapshot), ['ams1-a', 'lon1-a', 'lon1-b', 'nyc1-a']);
    assert.deepEqual(announcingSites(snapshot), ['ams1', 'lon1', 'nyc1']);
    assert.equal(bestNode(snapshot, 'eu'), 'lon1-a');
    assert.equal(bestSite(snapshot, 'us'), 'nyc1');
    assert.equal(routesOf(snapshot, 'lon1-b').length, 2);
    assert.equal(isAnnouncedBy(snapshot, 'lon1-a'), true);
    assert.equal(isWithdrawnBy(snapshot, 'lon1-a'), false);
    assert.match(describeSnapshot(snapshot), /eu: lon1-a\(best, med 100, lp 200\)/);
  });

  it('treats a node missing at one router as not announced everywhere', () => {
    const partial = { ...snapshot, routers: [snapshot.routers[0]!, { router: 'us', routes: [] }] };
    assert.equal(isAnnouncedBy(partial, 'lon1-a'), false);
    assert.equal(isAnnouncedBy(partial, 'lon1-a', 'eu'), true);
    assert.equal(isWithdrawnBy(partial, 'lon1-a'), false);
    const gone = { ...snapshot, routers: [{ router: 'eu', routes: [] }] };
    assert.equal(isWithdrawnBy(gone, 'lon1-a'), true);
    const unknown = { ...snapshot, routers: [{ router: 'eu', routes: [], error: 'down' }] };
    assert.equal(isWithdrawnBy(unknown, 'lon1-a'), false, 'an unreachable router proves nothing');
  });
});

describe('RouteObserver', () => {
  it('asks every router of a lab plan and names nodes from BIRD protocol names', async () => {
    const plan = planLab(defaultTopology(), 'abc123');
    const paths = labPaths('/tmp/herald-lab-abc123', plan);
    const asked: string[] = [];
    const observer = RouteObserver.forLab(plan, paths, async (socket, command) => {
      asked.push(`${socket} ${command}`);
      if (command === 'show protocols') return fixture('eu-protocols');
      return socket.includes('/eu/') ? fixture('eu-v4') : fixture('us-v4');
    });
    const snapshot = await observer.snapshot();
    assert.equal(snapshot.prefix, '198.51.100.10/32');
    assert.deepEqual(asked.sort(), [
      '/tmp/herald-lab-abc123/routers/eu/bird.ctl show route 198.51.100.10/32 all',
      '/tmp/herald-lab-abc123/routers/us/bird.ctl show route 198.51.100.10/32 all',
    ]);
    assert.equal(bestNode(snapshot, 'eu'), 'lon1-a');
    assert.equal(bestNode(snapshot, 'us'), 'nyc1-a');
    const sessions = await observer.sessions();
    assert.equal(sessions.filter((s) => s.node === 'lon1-a').length, 4, 'v4 and v6 at two routers');
    assert.ok(sessions.every((s) => s.established));
  });

  it('waits until a predicate holds, then reports how long it took', async () => {
    let calls = 0;
    const observer = new RouteObserver({
      routers: [{ name: 'eu', socket: 's' }],
      neighbors,
      defaultPrefix: '198.51.100.10/32',
      birdc: async () => (++calls < 3 ? fixture('notfound') : fixture('eu-v4')),
    });
    const result = await observer.waitFor((s) => bestNode(s, 'eu') === 'lon1-a', {
      timeoutMs: 2000,
      pollMs: 5,
    });
    assert.equal(result.attempts, 3);
    assert.equal(bestNode(result.value, 'eu'), 'lon1-a');
  });

  it('parses sessions that are down', () => {
    const text = fixture('eu-protocols').replace(
      /n_lon1_a\s+BGP\s+---\s+up\s+(\S+)\s+Established/,
      'n_lon1_a   BGP        ---        start  $1  Active        Socket: Connection refused',
    );
    const sessions = sessionsFromOutput('eu', text, neighbors);
    const lon1a = sessions.find((s) => s.protocol === 'n_lon1_a');
    assert.equal(lon1a?.established, false);
    assert.equal(lon1a?.node, 'lon1-a');
    assert.match(lon1a?.info ?? '', /Active/);
  });
});
