/**
 * The lab with FRR as its upstream routers (`herald lab up --router frr`): zebra and bgpd per
 * router namespace, read through vtysh by the lab's route observer. A drain of one PoP: the
 * router first keeps the PoP's path de-preferred (65535:0 -> local-pref 0, drain MED and
 * prepend) and sends the region's traffic to the other PoP, then the path is gone after the
 * drain hold; undrained, it comes back. Through the coordinator, `herald drain --wait` returns
 * only once the route is gone at the FRR routers (its route observer asks vtysh).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, afterEach, before, describe, it } from 'node:test';
import type { AgentTuning } from '../../src/lab/agent-config.js';
import { heraldCoordinator } from '../../src/lab/coordinator.js';
import { FRR_DAEMON_DIR } from '../../src/lab/frr-daemon.js';
import type { Lab } from '../../src/lab/lab.js';
import {
  bestSite,
  describeSnapshot,
  isAnnouncedBy,
  isWithdrawnBy,
  routesOf,
} from '../../src/lab/route-observer.js';
import { failoverTopology } from '../../src/lab/topology.js';
import {
  heraldOnLab,
  labSkip,
  noteOutcome,
  releaseTestLab,
  requireLab,
  startTestLab,
} from '../support/lab.js';

const NODE = 'lon1-a';

const tuning: Partial<AgentTuning> = { drainHold: 3000, flapDamping: false };

function frrSkip(): string | false {
  const lab = labSkip({ needsAgent: true });
  if (lab) return lab;
  const missing = ['zebra', 'bgpd'].filter(
    (daemon) => spawnSync('test', ['-x', `${FRR_DAEMON_DIR}/${daemon}`]).status !== 0,
  );
  if (spawnSync('vtysh', ['--help']).error) missing.push('vtysh');
  if (!missing.length) return false;
  const reason = `needs FRR (${missing.join(', ')}; Debian package frr)`;
  if (requireLab) throw new Error(`${reason} (HERALD_REQUIRE_LAB=1)`);
  return reason;
}

describe('lab with FRR routers (--router frr): a drain', { skip: frrSkip() }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startTestLab('lab-frr', {
      topology: { ...failoverTopology(), router: 'frr' },
      hostLink: true,
      coordinator: heraldCoordinator({ port: 0 }),
      agentTuning: tuning,
    });
  });
  after(() => releaseTestLab(lab));
  afterEach((t) => noteOutcome(t));

  it('FRR has every node, the home region preferred', async () => {
    const snapshot = await lab.observer.snapshot();
    for (const node of ['lon1-a', 'ams1-a', 'nyc1-a'])
      assert.ok(isAnnouncedBy(snapshot, node), `${node}: ${describeSnapshot(snapshot)}`);
    const [fromLon] = routesOf(snapshot, NODE).filter((r) => r.router === 'eu');
    assert.equal(fromLon?.localPref, 200, describeSnapshot(snapshot));
    assert.equal(fromLon?.gracefulShutdown, false);
    const sessions = await lab.observer.sessions();
    assert.ok(sessions.length >= 6 && sessions.every((s) => s.established), JSON.stringify(sessions));
  });

  it('de-preferred at the router during the graceful phase (traffic moves), gone after the withdraw', async () => {
    const response = await lab.agentRequest(NODE, 'POST', '/drain', { reason: 'frr e2e drain' });
    assert.equal(response.status, 200, response.body);
    const graceful = await lab.observer.waitFor(
      (s) => routesOf(s, NODE).length > 0 && routesOf(s, NODE).every((r) => r.gracefulShutdown),
      { timeoutMs: 10_000, description: 'the drained PoP to carry 65535:0 at every router' },
    );
    for (const route of routesOf(graceful.value, NODE)) {
      assert.equal(route.localPref, 0, `RFC 8326 on FRR ${route.router}`);
      assert.equal(route.med, 1000, 'drain MED');
      assert.ok(route.asPath.length > 1, 'AS path prepended');
      assert.equal(route.primary, false, `router ${route.router} no longer prefers the drained PoP`);
    }
    assert.equal(bestSite(graceful.value, 'eu'), 'ams1', describeSnapshot(graceful.value));
    await lab.observer.waitFor((s) => isWithdrawnBy(s, NODE), {
      timeoutMs: 15_000,
      description: 'the drained PoP withdrawn after the drain hold',
    });
    assert.equal((await lab.agentStatus(NODE)).state, 'DRAINED');
    assert.equal((await lab.agentRequest(NODE, 'POST', '/undrain')).status, 200);
    await lab.observer.waitFor(
      (s) => isAnnouncedBy(s, NODE) && !routesOf(s, NODE).some((r) => r.gracefulShutdown),
      {
        timeoutMs: 20_000,
        description: 'the PoP back after undrain',
      },
    );
  });

  it('`herald drain lon1 --wait` returns once the coordinator verified the route gone at the FRR routers', async () => {
    const drain = await heraldOnLab(lab, [
      'drain',
      'lon1',
      '--reason',
      'frr e2e',
      '--wait',
      '--timeout',
      '60s',
    ]);
    assert.equal(drain.code, 0, `${drain.stdout}\n${drain.stderr}`);
    assert.match(`${drain.stdout}${drain.stderr}`, /verified at the router/);
    const snapshot = await lab.observer.snapshot();
    assert.ok(isWithdrawnBy(snapshot, NODE), describeSnapshot(snapshot));
    assert.ok(isAnnouncedBy(snapshot, 'ams1-a') && isAnnouncedBy(snapshot, 'nyc1-a'));
    const undrain = await heraldOnLab(lab, [
      'undrain',
      'lon1',
      '--reason',
      'frr e2e done',
      '--wait',
      '--timeout',
      '60s',
    ]);
    assert.equal(undrain.code, 0, `${undrain.stdout}\n${undrain.stderr}`);
    await lab.observer.waitFor((s) => isAnnouncedBy(s, NODE), {
      timeoutMs: 20_000,
      description: 'lon1-a back after undrain',
    });
  });
});
