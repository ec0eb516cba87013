/**
 * The textbook fleet-wide failure on the real lab (issue 18, docs/panic-mode.md): the TLS
 * certificate breaks on every node at once while the proxies still answer SIP over UDP and TCP.
 * The lab's agents follow the docs' advice (the SIP-over-TLS check is failOpen), so the
 * coordinator's panic keeps the nodes announcing: at no moment does the prefix leave every
 * router. Then the certificate is fixed and the TLS check passes again. Three sites, the
 * coordinator on the host, as `npm run demo` runs it.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { heraldCoordinator } from '../../src/lab/coordinator.js';
import type { Lab } from '../../src/lab/lab.js';
import { announcingSites, isAnnouncedBy } from '../../src/lab/route-observer.js';
import { failoverTopology } from '../../src/lab/topology.js';
import { delay, waitFor } from '../../src/lab/wait.js';
import {
  coordinatorLabSkip,
  labFleetStatus,
  noteOutcome,
  releaseTestLab,
  startTestLab,
} from '../support/lab.js';

const CONDITION_TIMEOUT = 45_000;

describe('break-tls on every node (panic mode)', { skip: coordinatorLabSkip() }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startTestLab('lab-panic-tls', {
      topology: failoverTopology(),
      hostLink: true,
      coordinator: heraldCoordinator({ port: 0 }),
      agentTuning: { flapDamping: false },
    });
  });
  after(() => releaseTestLab(lab));
  afterEach((t) => noteOutcome(t));

  it('does not withdraw everywhere: panic keeps the nodes whose proxy still answers announcing', async () => {
    const nodes = lab.plan.nodes.map((n) => n.name);
    await waitFor(
      () => Promise.all(nodes.map((n) => lab.agentStatus(n))),
      (statuses) => statuses.every((s) => s.coordinator?.connected === true && s.state === 'UP'),
      { timeoutMs: CONDITION_TIMEOUT, pollMs: 200, description: 'every agent UP and connected' },
    );
    await lab.waitUntilAnnounced({ timeoutMs: CONDITION_TIMEOUT });
    // The coordinator decides panic only after its start-up grace (agents.staleAfter): a fault
    // inside it is judged by each agent alone (docs/panic-mode.md, rule 5).
    await waitFor(
      () => labFleetStatus(lab),
      (status) => status.panic?.startupGrace === false && status.panic.reportingSites === 3,
      { timeoutMs: CONDITION_TIMEOUT, pollMs: 200, description: 'the coordinator deciding panic' },
    );

    // Watch the routers the whole time: the prefix must never be gone from all of them.
    const emptySnapshots: string[] = [];
    let watching = true;
    let snapshots = 0;
    const watcher = (async () => {
      while (watching) {
        const snapshot = await lab.observer.snapshot().catch(() => null);
        if (snapshot && snapshot.routers.every((r) => !r.error)) {
          snapshots++;
          if (announcingSites(snapshot).length === 0) emptySnapshots.push(new Date().toISOString());
        }
        await delay(50);
      }
    })();

    try {
      await Promise.all(nodes.map((n) => lab.fault(n, 'break-tls')));
      // Every agent sees its TLS check fail, is told of the panic, and announces by ignoring it.
      const kept = await waitFor(
        () => Promise.all(nodes.map((n) => lab.agentStatus(n))),
        (statuses) =>
          statuses.every(
            (s) =>
              s.panic?.active === true &&
              s.panic.ignored.includes('sip-tls') &&
              s.panic.ignored.includes('tls-cert') &&
              s.prefixes.every((p) => p.desired === 'announce'),
          ),
        { timeoutMs: CONDITION_TIMEOUT, pollMs: 200, description: 'every agent kept announcing by panic' },
      );
      for (const status of kept.value) {
        for (const name of ['sip-tls', 'tls-cert']) {
          const tls = status.checks.find((c) => c.name === name)!;
          assert.equal(tls.panicIgnored, true, `${status.node}: ${name} is shown as ignored`);
          assert.match(tls.detail, /expired/i);
        }
        assert.equal(
          status.checks.find((c) => c.name === 'sip-udp')?.status,
          'up',
          `${status.node}: UDP answers`,
        );
      }
      await lab.waitUntilAnnounced({ timeoutMs: CONDITION_TIMEOUT });
    } finally {
      watching = false;
      await watcher;
      await Promise.all(nodes.map((n) => lab.fault(n, 'fix-tls').catch(() => undefined)));
    }
    assert.ok(snapshots > 0, 'the routers were watched');
    assert.deepEqual(emptySnapshots, [], 'the prefix was gone from every router');

    // Fixed: the TLS check passes again on every node, and every node announces.
    await waitFor(
      () => Promise.all(nodes.map((n) => lab.agentStatus(n))),
      (statuses) =>
        statuses.every((s) =>
          ['sip-tls', 'tls-cert'].every((name) => s.checks.find((c) => c.name === name)?.status === 'up'),
        ),
      { timeoutMs: CONDITION_TIMEOUT, pollMs: 200, description: 'the TLS check passing again everywhere' },
    );
    const snapshot = await lab.observer.snapshot();
    for (const node of nodes) assert.ok(isAnnouncedBy(snapshot, node), `${node} announces`);
  });
});
