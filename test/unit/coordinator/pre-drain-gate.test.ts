/**
 * The coordinator's side of the pre-drain (docs/turn.md): while an agent of a drain steers and
 * waits for live sessions, the drain's withdraw step stays closed and its graceful hold does not
 * run; once the pre-drain is over the hold runs and the policy is evaluated as the fleet is then
 * — a refusal keeps the drain on GRACEFUL_SHUTDOWN with the rule in `blocked`. Progress shows
 * each node's pre-drain phase and live count.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { advanceDrain, GracefulHolds, type AdvanceInput } from '../../../src/coordinator/drain-advance.js';
import type { DrainRecord, NodeReport } from '../../../src/coordinator/model.js';
import { nodeProgress, nodesPreDraining } from '../../../src/coordinator/progress.js';
import type { PreDrainStatus } from '../../../src/wire/agent-status.js';
import type { PolicyEvaluation } from '../../../src/wire/coordinator-api.js';
import { preDrainBadge, preDrainPhrase } from '../../../src/wire/pre-drain-phrase.js';
import { drainRecord, report } from './fixtures.js';

const P = '198.51.100.10/32';
const inventory = {
  sites: [{ name: 'lon1', region: 'eu', location: { lat: 0, lon: 0 }, nodes: ['lon1-a', 'lon1-b'] }],
};
const allowed: PolicyEvaluation = { allowed: true, violations: [] };
const refused: PolicyEvaluation = {
  allowed: false,
  violations: [{ rule: 'minAnnouncingSites', message: 'would leave 1 site', retryable: true }],
};
const DEADLINE = Date.UTC(2026, 11, 5, 6, 52, 10);

function withPreDrain(base: NodeReport, preDrain: PreDrainStatus): NodeReport {
  return { ...base, status: { ...base.status, preDrain } };
}

/** An agent holding d-1 that still announces normally (its pre-drain holds GRACEFUL_SHUTDOWN back). */
function preDraining(node: string, count: number | undefined, extra: Partial<PreDrainStatus> = {}) {
  return withPreDrain(
    report(node, 'lon1', [{ prefix: P, desired: 'announce', acknowledged: 'announce', drainedBy: ['d-1'] }], {
      drains: ['d-1'],
    }),
    {
      phase: 'waiting',
      threshold: 0,
      since: 1000,
      deadlineAt: DEADLINE,
      steered: true,
      ...(count !== undefined ? { count, countAt: 1500 } : {}),
      ...extra,
    },
  );
}

/** The agent after its pre-drain: GRACEFUL_SHUTDOWN acknowledged. */
function graceful(node: string, reason: 'threshold' | 'deadline' = 'threshold', count = 0) {
  return withPreDrain(
    report(node, 'lon1', [{ prefix: P, desired: 'graceful', acknowledged: 'graceful', drainedBy: ['d-1'] }], {
      drains: ['d-1'],
    }),
    {
      phase: 'complete',
      threshold: 0,
      since: 1000,
      deadlineAt: DEADLINE,
      steered: true,
      count,
      reason,
      completedAt: 2000,
    },
  );
}

function plain(node: string) {
  return report(
    node,
    'lon1',
    [{ prefix: P, desired: 'graceful', acknowledged: 'graceful', drainedBy: ['d-1'] }],
    {
      drains: ['d-1'],
    },
  );
}

function input(
  drain: DrainRecord,
  reports: Map<string, NodeReport>,
  extra: Partial<AdvanceInput>,
): AdvanceInput {
  return {
    drain,
    inventory,
    reports,
    isStale: () => false,
    observerConfigured: false,
    observation: null,
    defaultHoldMs: 1000,
    heldForMs: 0,
    evaluateWithdraw: () => {
      throw new Error('the policy must not be evaluated while a pre-drain runs');
    },
    now: 10_000,
    ...extra,
  };
}

describe('pre-drain phrases', () => {
  it('names the phase, the live count, the threshold, the deadline and any command error', () => {
    const waiting = preDraining('lon1-a', 3).status.preDrain!;
    assert.equal(
      preDrainPhrase(waiting),
      'pre-drain: waiting for sessions: 3 live, threshold 0 (deadline 06:52:10Z)',
    );
    assert.equal(preDrainBadge(waiting), 'waiting: 3 > 0');
    const failed = { ...waiting, count: undefined, gaugeError: 'sleep did not finish within 300 ms' };
    assert.equal(
      preDrainPhrase(failed),
      'pre-drain: waiting for sessions: count unknown, threshold 0 (deadline 06:52:10Z) — gauge failed: sleep did not finish within 300 ms',
    );
    assert.equal(preDrainBadge(failed), 'gauge failed');
    assert.equal(
      preDrainPhrase({ phase: 'steering', threshold: 0, since: 1, deadlineAt: DEADLINE, steered: false }),
      'pre-drain: steering new sessions away (deadline 06:52:10Z)',
    );
    const deadline = graceful('lon1-a', 'deadline', 2).status.preDrain!;
    assert.equal(preDrainPhrase(deadline), 'pre-drain done at its deadline with 2 sessions live');
    assert.equal(preDrainBadge(deadline), 'deadline passed');
    assert.equal(
      preDrainPhrase(graceful('lon1-a').status.preDrain!),
      'pre-drain done: 0 sessions ≤ threshold 0',
    );
  });
});

describe('node progress with a pre-drain', () => {
  const drain = drainRecord('d-1', { site: 'lon1' });
  const base = {
    drain,
    node: 'lon1-a',
    stale: false,
    observerConfigured: false,
    observation: null,
    previous: undefined,
    now: 5000,
  };

  it('is pending with the pre-drain phase and count while the agent steers and waits', () => {
    const progress = nodeProgress({ ...base, report: preDraining('lon1-a', 3) });
    assert.equal(progress.stage, 'pending');
    assert.equal(
      progress.detail,
      'pre-drain: waiting for sessions: 3 live, threshold 0 (deadline 06:52:10Z)',
    );
    assert.equal(progress.preDrain?.count, 3);
  });

  it('says how the pre-drain ended once the node is draining', () => {
    const progress = nodeProgress({ ...base, report: graceful('lon1-a', 'deadline', 2) });
    assert.equal(progress.stage, 'draining');
    assert.match(
      progress.detail,
      /^GRACEFUL_SHUTDOWN acknowledged; .*; pre-drain done at its deadline with 2 sessions live$/,
    );
    assert.equal(progress.preDrain?.reason, 'deadline');
  });

  it('shows nothing of an idle pre-drain, nor one of an agent that has not picked the drain up', () => {
    const idle = withPreDrain(plain('lon1-a'), { phase: 'idle', threshold: 0 });
    assert.equal(nodeProgress({ ...base, report: idle }).preDrain, undefined);
    const notYet = withPreDrain(
      report('lon1-a', 'lon1', [{ prefix: P, desired: 'announce', acknowledged: 'announce' }]),
      {
        phase: 'waiting',
        threshold: 0,
        since: 1,
        steered: false,
      },
    );
    const progress = nodeProgress({ ...base, report: notYet });
    assert.equal(progress.preDrain, undefined);
    assert.equal(progress.detail, 'the agent has not picked up the drain yet');
  });
});

describe('nodesPreDraining', () => {
  const fresh = () => false;
  it('lists agents steering or waiting, and pre-drain agents that have not picked the drain up', () => {
    const notPickedUp = withPreDrain(
      report('lon1-b', 'lon1', [{ prefix: P, desired: 'announce', acknowledged: 'announce' }]),
      {
        phase: 'idle',
        threshold: 0,
      },
    );
    const reports = new Map([
      ['lon1-a', preDraining('lon1-a', 3)],
      ['lon1-b', notPickedUp],
    ]);
    assert.deepEqual(nodesPreDraining('d-1', ['lon1-a', 'lon1-b'], reports, fresh), ['lon1-a', 'lon1-b']);
  });

  it('does not wait for agents without a pre-drain, finished ones, or stale ones', () => {
    const reports = new Map([
      ['lon1-a', graceful('lon1-a')],
      ['lon1-b', plain('lon1-b')],
    ]);
    assert.deepEqual(nodesPreDraining('d-1', ['lon1-a', 'lon1-b'], reports, fresh), []);
    const stale = new Map([['lon1-a', preDraining('lon1-a', 3)]]);
    assert.deepEqual(
      nodesPreDraining('d-1', ['lon1-a'], stale, (n) => n === 'lon1-a'),
      [],
    );
  });
});

describe('the withdraw step after a pre-drain', () => {
  const drain = drainRecord('d-1', { site: 'lon1' }, { holdMs: 1000 });

  it('stays closed while a node pre-drains, however long the drain has existed', () => {
    const reports = new Map([
      ['lon1-a', preDraining('lon1-a', 3)],
      ['lon1-b', plain('lon1-b')],
    ]);
    const result = advanceDrain(input(drain, reports, { heldForMs: 3_600_000 }));
    assert.equal(result.next.phase, 'graceful');
    assert.deepEqual(result.notices, []);
    assert.deepEqual(result.next.blocked, []);
  });

  it('restarts the graceful hold until the pre-drain is over, then evaluates the policy as the fleet is then', () => {
    let mono = 0;
    const holds = new GracefulHolds(() => mono);
    let reports = new Map([
      ['lon1-a', preDraining('lon1-a', 3)],
      ['lon1-b', plain('lon1-b')],
    ]);
    const heldForMs = (over: boolean) => holds.heldFor(drain, over);
    let record = drain;
    for (const step of [0, 5000, 60_000]) {
      mono = step;
      record = advanceDrain(input(record, reports, { heldForMs })).next;
      assert.equal(record.phase, 'graceful');
    }
    // The pre-drain ended at 60 s: the 1 s hold starts now, the policy is not asked before it passed.
    reports = new Map([
      ['lon1-a', graceful('lon1-a')],
      ['lon1-b', plain('lon1-b')],
    ]);
    mono = 60_100;
    record = advanceDrain(input(record, reports, { heldForMs })).next;
    mono = 60_900;
    record = advanceDrain(input(record, reports, { heldForMs })).next;
    assert.equal(record.phase, 'graceful');
    // Hold passed; meanwhile another site went down: the policy refuses, the drain never withdraws.
    mono = 61_200;
    const blocked = advanceDrain(input(record, reports, { heldForMs, evaluateWithdraw: () => refused }));
    assert.equal(blocked.next.phase, 'graceful');
    assert.deepEqual(blocked.notices, ['blocked']);
    assert.deepEqual(
      blocked.next.blocked.map((v) => v.rule),
      ['minAnnouncingSites'],
    );
    // The floor is restored: the withdraw step is taken.
    mono = 70_000;
    const cleared = advanceDrain(
      input(blocked.next, reports, { heldForMs, evaluateWithdraw: () => allowed }),
    );
    assert.equal(cleared.next.phase, 'withdraw');
    assert.deepEqual(cleared.next.blocked, []);
    assert.deepEqual(cleared.notices, ['withdraw-step']);
  });
});
