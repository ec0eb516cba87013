/**
 * The safety policy counts nodes served by other replicas (the shared health board) toward the
 * floors: a replica that holds only some of the agents must not see the rest as gone.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  withSharedHealth,
  withSharedReports,
  type HealthInputs,
} from '../../../src/coordinator/agent-hub.js';
import type { AgentDrainState } from '../../../src/coordinator/events.js';
import { nodeProgress } from '../../../src/coordinator/progress.js';
import type { NodeHealth } from '../../../src/coordinator/replicas/health-board.js';

const V4 = '192.0.2.1/32';
const V6 = '2001:db8::1/128';

function entry(node: string, site: string, announcing: string[], stale = false): [string, NodeHealth] {
  return [
    node,
    { node, site, replica: 'coord-b', state: 'up', healthy: true, announcing, stale, drainStage: null },
  ];
}

const local: HealthInputs = {
  announcing: new Map([['lon1-a', new Set([V4])]]),
  reporting: new Set(['lon1-a', 'lon1-b']),
  prefixes: [V4],
};

describe('policy health across replicas', () => {
  it('adds the nodes another replica serves, fresh ones only', () => {
    const board = new Map([entry('ams1-a', 'ams1', [V4, V6]), entry('fra1-a', 'fra1', [V4], true)]);
    const merged = withSharedHealth(local, board);
    assert.deepEqual([...merged.reporting].sort(), ['ams1-a', 'lon1-a', 'lon1-b']);
    assert.deepEqual([...(merged.announcing.get('ams1-a') ?? [])], [V4, V6]);
    assert.equal(merged.announcing.has('fra1-a'), false, 'a stale board entry does not count as announcing');
    assert.deepEqual(merged.prefixes, [V6, V4].sort());
  });

  it("keeps this replica's own fresh report over the board's", () => {
    // lon1-b reports here and announces nothing; the board (written before it moved) says it announces.
    const board = new Map([entry('lon1-b', 'lon1', [V4])]);
    const merged = withSharedHealth(local, board);
    assert.equal(merged.announcing.has('lon1-b'), false);
  });

  it('changes nothing when the board holds only what is local', () => {
    const board = new Map([entry('lon1-a', 'lon1', [V4])]);
    const merged = withSharedHealth(local, board);
    assert.deepEqual(merged.reporting, local.reporting);
    assert.deepEqual(merged.announcing, local.announcing);
  });
});

describe('drain progress across replicas', () => {
  const withdrawn: AgentDrainState = {
    prefixes: [
      {
        prefix: V4,
        state: 'DRAINED',
        desired: 'withdraw',
        acknowledged: 'withdraw',
        acknowledgedAt: 1,
        drainedBy: ['d-1'],
      },
    ],
    drains: [{ id: 'd-1', source: 'coordinator', reason: 'test', phase: 'withdraw', since: 1 }],
  };
  const remote = (stale = false): [string, NodeHealth] => [
    'ams1-a',
    {
      ...entry('ams1-a', 'ams1', [], stale)[1],
      drainStage: 'pending',
      ...(stale ? {} : { drainState: withdrawn }),
    },
  ];
  const progressOf = (inputs: ReturnType<typeof withSharedReports>) =>
    nodeProgress({
      drain: { id: 'd-1', target: { site: 'ams1' } },
      node: 'ams1-a',
      report: inputs.reports.get('ams1-a'),
      stale: inputs.isStale('ams1-a'),
      observerConfigured: false,
      observation: null,
      previous: undefined,
      now: 10,
    });

  it("reads the withdraw of an agent connected to another replica from the board (the leader's view)", () => {
    const inputs = withSharedReports({ reports: new Map(), isStale: () => true }, new Map([remote()]));
    const progress = progressOf(inputs);
    assert.equal(progress.stage, 'withdrawn');
    assert.equal(progress.stale, false);
  });

  it('a stale board entry leaves the node stale and pending', () => {
    const inputs = withSharedReports({ reports: new Map(), isStale: () => true }, new Map([remote(true)]));
    const progress = progressOf(inputs);
    assert.equal(progress.stage, 'pending');
    assert.equal(progress.stale, true);
  });
});
