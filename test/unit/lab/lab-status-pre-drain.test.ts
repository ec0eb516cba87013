/**
 * `herald lab status` text: a node whose agent pre-drains (lab up --pre-drain) shows the phase and
 * the live session count under its line; an idle pre-drain (every node of such a lab) adds nothing.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatLabReport, type LabReport, type NodeReport } from '../../../src/lab/lab-status.js';

const report = (agent: NodeReport['agent']): LabReport => ({
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

describe('lab status: the pre-drain', () => {
  test('a waiting pre-drain shows its live count and deadline under the node', () => {
    const text = formatLabReport(
      report({
        pids: [1],
        state: 'UP',
        healthy: true,
        drains: ['local:try'],
        preDrain: { phase: 'waiting', threshold: 0, count: 2, deadlineAt: Date.UTC(2026, 0, 1, 6, 52, 10) },
      }),
    );
    assert.match(
      text,
      /agent UP drained by local:try\n +pre-drain: waiting for sessions: 2 live, threshold 0 \(deadline 06:52:10Z\)\n/,
    );
  });

  test('done at the deadline says so', () => {
    const text = formatLabReport(
      report({
        pids: [1],
        state: 'DRAINING',
        healthy: true,
        drains: ['local:try'],
        preDrain: { phase: 'complete', threshold: 0, count: 1, reason: 'deadline' },
      }),
    );
    assert.match(text, /pre-drain done at its deadline with 1 session live/);
  });

  test('an idle pre-drain adds no line', () => {
    const text = formatLabReport(
      report({
        pids: [1],
        state: 'UP',
        healthy: true,
        drains: [],
        preDrain: { phase: 'idle', threshold: 0 },
      }),
    );
    assert.doesNotMatch(text, /pre-drain/);
  });
});
