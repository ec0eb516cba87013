/**
 * Flap damping on the real lab (issue 18): a crash-looping Kamailio at the default half-life
 * (60 s) with a maxHoldDown far shorter than it. Before the fix that config was accepted and the
 * node was never held down (the penalty cap sat below suppressAt). Now the node is held down
 * after a few falls, reads as held down (checks pass, route withdrawn, time remaining), and is
 * released by maxHoldDown while the penalty is still high, then announced again. Conditions and
 * their order are asserted, not how fast they came. One node, one router, the coordinator on the
 * host (for `herald status`).
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { heraldCoordinator } from '../../src/lab/coordinator.js';
import type { Lab } from '../../src/lab/lab.js';
import { waitForAgent } from '../../src/lab/lab.js';
import { formatLabReport, gatherLabReport } from '../../src/lab/lab-status.js';
import { isAnnouncedBy, isWithdrawnBy } from '../../src/lab/route-observer.js';
import { singleNodeTopology } from '../../src/lab/topology.js';
import { waitFor } from '../../src/lab/wait.js';
import type { AgentStatus } from '../../src/wire/agent-status.js';
import {
  coordinatorLabSkip,
  heraldOnLab,
  labFleetStatus,
  noteOutcome,
  releaseTestLab,
  startTestLab,
} from '../support/lab.js';

const NODE = 'lon1-a';
/** The agent's defaults (halfLife 60 s, suppressAt 2500, 1000 a fall) with a short maxHoldDown. */
const MAX_HOLD_DOWN = 20_000;
const REUSE_AT = 750;
/** Generous bounds for conditions on a loaded 2-core machine; never the thing under test. */
const CONDITION_TIMEOUT = 30_000;

describe(
  'flap damping on the lab (default halfLife, short maxHoldDown)',
  { skip: coordinatorLabSkip() },
  () => {
    let lab: Lab;
    before(async () => {
      lab = await startTestLab('lab-flap-damping', {
        topology: singleNodeTopology(),
        hostLink: true,
        coordinator: heraldCoordinator({ port: 0 }),
        agentTuning: { flapDamping: { maxHoldDown: MAX_HOLD_DOWN } },
      });
    });
    after(() => releaseTestLab(lab));
    afterEach((t) => noteOutcome(t));

    it('a crash-looping proxy is held down, reads as held down, and is released by maxHoldDown', async () => {
      await lab.waitUntilAnnounced({ nodes: [NODE], timeoutMs: CONDITION_TIMEOUT });

      // Crash loop: the proxy dies, the agent counts the fall, the proxy comes back. Until the
      // agent holds the node down (three falls with these settings; a few more allowed).
      let held: AgentStatus | undefined;
      for (let fall = 1; fall <= 6 && !held; fall++) {
        await lab.fault(NODE, 'stop-proxy');
        await waitForAgent(lab, NODE, (s) => s.holdDown.flaps >= fall, {
          timeoutMs: CONDITION_TIMEOUT,
          description: `fall ${fall} counted`,
        });
        await lab.fault(NODE, 'start-proxy');
        const next = await waitForAgent(
          lab,
          NODE,
          (s) => s.state === 'UP' || (s.holdDown.active && s.healthy),
          {
            timeoutMs: CONDITION_TIMEOUT,
            description: `back UP, or held down with passing checks, after fall ${fall}`,
          },
        );
        if (next.value.holdDown.active) held = next.value;
      }
      assert.ok(held, 'held down within 6 falls of a crash-looping proxy');
      assert.ok(held.holdDown.flaps >= 3, `held down after ${held.holdDown.flaps} falls`);

      // Held down: every check passes, the node is healthy, and the route stays away.
      assert.equal(held.healthy, true);
      assert.equal(held.state, 'RISING');
      assert.deepEqual(
        held.checks.map((c) => [c.name, c.status]),
        held.checks.map((c) => [c.name, 'up']),
      );
      assert.ok(
        held.holdDown.remainingMs > 0 && held.holdDown.remainingMs <= MAX_HOLD_DOWN,
        JSON.stringify(held.holdDown),
      );
      assert.ok(
        isWithdrawnBy(await lab.observer.snapshot(), NODE),
        'withdrawn at the router while held down',
      );

      // It reads as held down, not failing: `herald lab status`, and `herald status` (text and
      // JSON) through the coordinator. The hold-down is still on afterwards (checked below).
      const labText = formatLabReport(await gatherLabReport(lab.context));
      assert.match(
        labText,
        new RegExp(`${NODE} .*agent RISING \\(checks pass; held down for flapping for another \\d+ s`),
      );
      assert.doesNotMatch(labText, /checks failing/);
      const fleet = await waitFor(
        () => labFleetStatus(lab),
        (status) => status.sites[0]?.nodes[0]?.holdDown !== undefined,
        {
          timeoutMs: CONDITION_TIMEOUT,
          pollMs: 200,
          description: 'herald status --json showing the hold-down',
        },
      );
      const node = fleet.value.sites[0]!.nodes[0]!;
      assert.equal(node.healthy, true);
      assert.ok(node.holdDown!.flaps >= 3);
      const statusText = await heraldOnLab(lab, ['status']);
      assert.equal(statusText.code, 0, statusText.stderr);
      assert.match(
        statusText.stdout,
        new RegExp(`${NODE} .*RISING .*\\[checks pass; held down for flapping for another \\d+ s`),
      );
      assert.equal(
        (await lab.agentStatus(NODE)).holdDown.active,
        true,
        'still held down after the reads above',
      );

      // Until the hold-down ends: never announced, never more than maxHoldDown to go.
      const violations: string[] = [];
      const released = await waitForAgent(
        lab,
        NODE,
        (s) => {
          if (s.holdDown.active && s.holdDown.remainingMs > MAX_HOLD_DOWN)
            violations.push(`remaining ${s.holdDown.remainingMs} ms`);
          if (s.holdDown.active && s.prefixes.some((p) => p.desired !== 'withdraw'))
            violations.push(`wants ${s.prefixes.map((p) => p.desired).join()} while held down`);
          return !s.holdDown.active;
        },
        { timeoutMs: MAX_HOLD_DOWN + CONDITION_TIMEOUT, description: 'the hold-down to end' },
      );
      assert.deepEqual(violations, []);
      // Released by maxHoldDown, not by decay: at the default half-life the penalty is still well
      // above reuseAt (it would take about two minutes to decay).
      assert.ok(
        released.value.holdDown.penalty >= REUSE_AT,
        `penalty ${released.value.holdDown.penalty} at release`,
      );

      // Then the node returns: announced again at the router.
      await lab.waitUntilAnnounced({ nodes: [NODE], timeoutMs: CONDITION_TIMEOUT });
      const back = await lab.agentStatus(NODE);
      assert.equal(back.state, 'UP');
      assert.ok(isAnnouncedBy(await lab.observer.snapshot(), NODE));
    });
  },
);
