/**
 * Pre-drains configured per check as well as per node: each gets its own gate (its own steering,
 * gauge, threshold and deadline), the drain reaches the state machine only when all are done, and
 * /status shows them as one (least advanced phase, summed counts, errors named by owner). Real
 * gauge commands (`sh -c 'echo N'`), as an operator would configure them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { agentConfigSchema } from '../../../src/config/agent-schema.js';
import { combineStatuses, configuredPreDrains, createAgentPreDrain } from '../../../src/agent/pre-drain.js';
import { waitFor } from '../../../src/lab/wait.js';
import { createLogger } from '../../../src/util/log.js';

const config = agentConfigSchema.parse({
  node: 'lon1-a',
  site: 'lon1',
  prefixes: ['198.51.100.10/32'],
  bgp: { localAs: 65001 },
  preDrain: { gaugeCommand: ['sh', '-c', 'echo 0'], deadline: '10s', pollInterval: '100ms' },
  checks: [
    { name: 'sip-udp', type: 'sip-options', transport: 'udp' },
    {
      name: 'turn-udp',
      type: 'turn',
      transport: 'udp',
      credentials: { secretFile: '/nonexistent' },
      // Five live sessions that never end: this check's pre-drain lasts until its deadline.
      preDrain: { gaugeCommand: ['sh', '-c', 'echo 5'], deadline: '800ms', pollInterval: '100ms' },
    },
  ],
});

test('the node and each check with a preDrain get one; the drain waits for all of them', async () => {
  assert.deepEqual(
    configuredPreDrains(config).map((p) => p.owner),
    ['node', 'check turn-udp'],
  );
  const preDrain = createAgentPreDrain(config, createLogger('test', 'silent'), () => {});
  try {
    const held = new Map([['198.51.100.10/32', 1]]);
    assert.equal(preDrain.filter(held).size, 0, 'held back while the pre-drains run');
    const waiting = await waitFor(
      async () => preDrain.status(),
      (s) => s?.count === 5,
      { timeoutMs: 5000, pollMs: 20, description: 'both counts read' },
    );
    assert.equal(waiting.value?.phase, 'waiting', 'the node is done (0 sessions) but the check is not');
    assert.equal(waiting.value?.threshold, 0);
    assert.equal(preDrain.filter(held).size, 0, 'still held back: the check has 5 sessions');
    const done = await waitFor(
      async () => preDrain.filter(held),
      (through) => through.size === 1,
      { timeoutMs: 5000, pollMs: 20, description: "the check's deadline" },
    );
    assert.equal(done.value.get('198.51.100.10/32'), 1);
    const status = preDrain.status();
    assert.equal(status?.phase, 'complete');
    assert.equal(status?.reason, 'deadline', 'one of them only ended at its deadline');
    // Released: every gate goes back to idle.
    assert.equal(preDrain.filter(new Map()).size, 0);
    assert.equal(preDrain.status()?.phase, 'idle');
  } finally {
    preDrain.stop();
  }
});

test('combined status: errors are named by their owner', () => {
  const combined = combineStatuses([
    {
      owner: 'node',
      status: {
        phase: 'complete',
        threshold: 0,
        since: 10,
        deadlineAt: 100,
        steered: true,
        count: 0,
        reason: 'threshold',
        completedAt: 20,
      },
    },
    {
      owner: 'check turn-udp',
      status: {
        phase: 'waiting',
        threshold: 2,
        since: 12,
        deadlineAt: 200,
        steered: false,
        steerError: 'refused',
        count: 3,
        countAt: 30,
      },
    },
  ]);
  assert.deepEqual(combined, {
    phase: 'waiting',
    threshold: 2,
    since: 10,
    deadlineAt: 200,
    steered: false,
    count: 3,
    countAt: 30,
    steerError: 'check turn-udp: refused',
  });
});
