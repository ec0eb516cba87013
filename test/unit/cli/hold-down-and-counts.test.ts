/**
 * Issue 18: a held-down node reads as held down (healthy checks, the hold-down apart) in the
 * agent's status fields, its metrics, `herald status` and `herald lab status`; and
 * `herald status SITE` counts the sites it shows, with the fleet's count apart.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AgentMetrics } from '../../../src/agent/metrics.js';
import { healthAndHoldDown } from '../../../src/agent/status-view.js';
import { statusText } from '../../../src/cli/client/render.js';
import { applyProbeRound, initialState, type MachineParams } from '../../../src/health/state-machine.js';
import { formatLabReport, type LabReport } from '../../../src/lab/lab-status.js';
import type { AgentStatus } from '../../../src/wire/agent-status.js';
import { fleet, nodeStatus, siteStatus } from '../dashboard/support/fleet-documents.js';

const P4 = '198.51.100.10/32';
const params: MachineParams = {
  rise: 2,
  fall: 1,
  damping: {
    enabled: true,
    penaltyPerFlap: 1000,
    suppressAt: 2500,
    reuseAt: 750,
    halfLife: 60_000,
    maxHoldDown: 20_000,
  },
};

/** Three falls, then every check passes: held down, RISING. */
function heldDownMachine() {
  let state = initialState([P4]);
  let at = 0;
  for (const healthy of [true, true, false, true, true, false, true, true, false, true, true])
    state = applyProbeRound(state, params, healthy, (at += 1000));
  return { state, at };
}

describe("the agent's status fields", () => {
  test('a held-down node whose checks pass is healthy, with the hold-down and its remaining time apart', () => {
    const { state, at } = heldDownMachine();
    assert.equal(state.health, 'RISING');
    const view = healthAndHoldDown(state, params, at);
    assert.equal(view.healthy, true);
    assert.equal(view.holdDown.active, true);
    assert.equal(view.holdDown.flaps, 3);
    assert.ok(
      view.holdDown.remainingMs > 0 && view.holdDown.remainingMs <= 20_000,
      String(view.holdDown.remainingMs),
    );
  });

  test('a node rising normally is not healthy until rise good rounds, and a failing one is not healthy', () => {
    const rising = applyProbeRound(initialState([P4]), params, true, 1000);
    assert.equal(healthAndHoldDown(rising, params, 1000).healthy, false);
    const down = applyProbeRound(rising, params, false, 2000);
    assert.deepEqual(healthAndHoldDown(down, params, 2000), {
      healthy: false,
      holdDown: { active: false, remainingMs: 0, penalty: 0, flaps: 0 },
    });
  });

  test('metrics: herald_held_down and herald_checks_pass tell a held-down node from a failing one', () => {
    const { state, at } = heldDownMachine();
    const metrics = new AgentMetrics();
    metrics.update({
      state: 'RISING',
      checks: [],
      prefixes: [],
      ...healthAndHoldDown(state, params, at),
    } as unknown as AgentStatus);
    const text = metrics.registry.metrics();
    assert.match(text, /^herald_held_down 1$/m);
    assert.match(text, /^herald_checks_pass 1$/m);
    assert.match(text, /^herald_hold_down_seconds \d+(\.\d+)?$/m);
  });
});

describe('herald status', () => {
  const lon = siteStatus('lon1', 'eu', [nodeStatus('lon1-a')]);
  const ams = siteStatus('ams1', 'eu', [nodeStatus('ams1-a')]);
  const nyc = siteStatus('nyc1', 'us', [nodeStatus('nyc1-a', { ack: 'withdraw', state: 'DOWN' })]);

  test('the whole fleet: announcing sites over all sites', () => {
    assert.match(statusText(fleet([lon, ams, nyc]), 100_000), /^2 of 3 site\(s\) announcing \(floor 2/);
  });

  test('one site: counts the sites shown, and gives the fleet-wide count apart', () => {
    // The coordinator filters `sites` but keeps `announcingSites` fleet-wide.
    const filtered = { ...fleet([lon, ams, nyc]), sites: [nyc] };
    const text = statusText(filtered, 100_000, { site: 'nyc1' });
    const first = text.split('\n')[0]!;
    assert.match(
      first,
      /^site nyc1: 0 of 1 shown site\(s\) announcing; fleet-wide 2 site\(s\) announcing \(floor 2/,
    );
    assert.doesNotMatch(text, /2 of 1/);
  });

  test('a held-down node line says its checks pass and how long the hold-down lasts', () => {
    const held = {
      ...nodeStatus('lon1-b', { ack: 'withdraw', state: 'RISING' }),
      healthy: true,
      holdDown: { until: 100_000 + 42_000, flaps: 5 },
    };
    const text = statusText(fleet([siteStatus('lon1', 'eu', [nodeStatus('lon1-a'), held])]), 100_000);
    const line = text.split('\n').find((l) => l.includes('lon1-b'))!;
    assert.match(line, /RISING .*\[checks pass; held down for flapping for another 42 s \(5 flaps\)\]$/);
    assert.doesNotMatch(
      text.split('\n').find((l) => l.includes('lon1-a'))!,
      /held down/,
    );
  });
});

describe('herald lab status', () => {
  const report = (agent: LabReport['nodes'][number]['agent']): LabReport => ({
    runId: 'r1',
    runDir: '/tmp/r1',
    ownerAlive: true,
    snapshots: [],
    sessions: [],
    nodes: [
      {
        name: 'lon1-a',
        site: 'lon1',
        region: 'eu',
        address: '192.0.2.1',
        kamailio: { processes: 1, frozen: false },
        exabgp: { pid: 1, frozen: false },
        agent,
      },
    ],
  });

  test('a held-down agent reads as held down with passing checks, not as failing', () => {
    const text = formatLabReport(
      report({
        pids: [1],
        state: 'RISING',
        healthy: true,
        holdDown: { remainingMs: 12_300, flaps: 4 },
        drains: [],
      }),
    );
    assert.match(text, /agent RISING \(checks pass; held down for flapping for another 13 s \(4 flaps\)\)/);
    assert.doesNotMatch(text, /checks failing/);
  });

  test('a failing agent still reads as failing', () => {
    assert.match(
      formatLabReport(report({ pids: [1], state: 'DOWN', healthy: false, drains: [] })),
      /agent DOWN \(checks failing\)/,
    );
  });
});
