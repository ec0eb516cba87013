/**
 * The lab's own plumbing, with a stand-in helper that only announces (no agent): BGP sessions
 * from every node to every router, region preference, real SIP from the clients, BGP failure
 * timings at the routers, and a teardown that leaves nothing behind.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, afterEach, before, describe, it } from 'node:test';
import { announceOnlyScript } from '../../src/lab/fixture-helper.js';
import type { Lab } from '../../src/lab/lab.js';
import { listNamespaces } from '../../src/lab/network.js';
import { namespacePids } from '../../src/lab/processes.js';
import { bestNode, isAnnouncedBy, isWithdrawnBy, routesOf } from '../../src/lab/route-observer.js';
import { failoverTopology, singleNodeTopology } from '../../src/lab/topology.js';
import { labSkip, noteOutcome, record, releaseTestLab, startTestLab } from '../support/lab.js';

const skip = labSkip();

describe('lab network (announce-only helper)', { skip }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startTestLab('lab-network', {
      topology: failoverTopology({ ipv6: true }),
      agent: { kind: 'script', script: announceOnlyScript() },
    });
  });
  after(() => releaseTestLab(lab));
  afterEach((t) => noteOutcome(t));

  it('every node announces to every router, IPv4 and IPv6', async () => {
    const v4 = await lab.observer.snapshot();
    const v6 = await lab.observer.snapshot('2001:db8:a::10/128');
    for (const node of ['lon1-a', 'ams1-a', 'nyc1-a']) {
      assert.ok(isAnnouncedBy(v4, node), `${node} IPv4`);
      assert.ok(isAnnouncedBy(v6, node), `${node} IPv6`);
    }
    const sessions = await lab.observer.sessions();
    assert.equal(sessions.length, 3 * 2 * 2, '3 nodes × 2 routers × 2 families');
    assert.ok(sessions.every((s) => s.established));
  });

  it('each region prefers its own PoPs, and a client really reaches that node over SIP', async () => {
    const snapshot = await lab.observer.snapshot();
    assert.equal(bestNode(snapshot, 'eu'), 'lon1-a');
    assert.equal(bestNode(snapshot, 'us'), 'nyc1-a');
    const nyc1 = routesOf(snapshot, 'nyc1-a').find((r) => r.router === 'eu');
    assert.equal(nyc1?.localPref, 100, 'eu router de-prefers the us PoP');
    const eu = await lab.sipOptions('eu');
    const us = await lab.sipOptions('us');
    assert.deepEqual(eu.answered && [eu.code, eu.node], [200, 'lon1-a']);
    assert.deepEqual(us.answered && [us.code, us.node], [200, 'nyc1-a']);
    const eu6 = await lab.sipOptions('eu', { ipv6: true });
    assert.deepEqual(eu6.answered && [eu6.code, eu6.node], [200, 'lon1-a'], 'the same over IPv6');
  });

  it('ExaBGP SIGKILL: the route is gone at once and eu traffic moves to ams1', async () => {
    const fault = await lab.fault('lon1-a', 'kill-exabgp');
    const gone = await lab.observer.waitFor((s) => isWithdrawnBy(s, 'lon1-a'), {
      timeoutMs: 2000,
      pollMs: 5,
      description: 'lon1-a withdrawn after ExaBGP SIGKILL',
    });
    const ms = gone.value.at - fault.at;
    record('lab-timings.jsonl', { test: 'lab-network', event: 'exabgp-sigkill', withdrawnMs: ms });
    assert.equal(bestNode(gone.value, 'eu'), 'ams1-a');
    const reply = await lab.sipOptions('eu');
    assert.equal(reply.answered && reply.node, 'ams1-a');
    await lab.fault('lon1-a', 'start-exabgp');
    await lab.waitUntilAnnounced({ nodes: ['lon1-a'], timeoutMs: 15_000 });
  });

  it('ExaBGP frozen: the route stays until the hold time (3 s) expires, then goes', async () => {
    const fault = await lab.fault('ams1-a', 'freeze-exabgp');
    try {
      const gone = await lab.observer.waitFor((s) => isWithdrawnBy(s, 'ams1-a'), {
        timeoutMs: 3000 * 1.25 + 2000,
        pollMs: 20,
        description: 'ams1-a withdrawn after ExaBGP froze',
      });
      const ms = gone.value.at - fault.at;
      record('lab-timings.jsonl', { test: 'lab-network', event: 'exabgp-frozen', withdrawnMs: ms });
      assert.ok(ms >= 1000, `withdrawn after ${ms} ms: a frozen speaker is only noticed by the hold timer`);
    } finally {
      await lab.fault('ams1-a', 'thaw-exabgp');
    }
    await lab.waitUntilAnnounced({ nodes: ['ams1-a'], timeoutMs: 20_000 });
  });
});

describe('lab teardown', { skip }, () => {
  it('removes every namespace, process and file it created', async () => {
    const lab = await startTestLab('lab-teardown', {
      topology: singleNodeTopology(),
      agent: { kind: 'script', script: announceOnlyScript() },
    });
    const namespaces = lab.plan.namespaces;
    const pids = (await Promise.all(namespaces.map((ns) => namespacePids(ns)))).flat();
    assert.ok(pids.length >= 3, 'BIRD, Kamailio, ExaBGP and the helper run');
    await lab.fault('lon1-a', 'freeze-proxy'); // a frozen process must not block the teardown
    const started = performance.now();
    await releaseTestLab(lab);
    record('lab-timings.jsonl', { test: 'lab-teardown', releaseMs: Math.round(performance.now() - started) });
    const left = (await listNamespaces()).filter((ns) => namespaces.includes(ns));
    assert.deepEqual(left, []);
    assert.equal(existsSync(lab.runDir), false, 'run directory removed');
    for (const pid of pids) assert.equal(existsSync(`/proc/${pid}`), false, `pid ${pid} gone`);
  });
});
