/**
 * One drain moved forward: the withdraw step waits for the graceful hold (monotonic time, not
 * the wall clock) and for the policy, a block is recorded once (not on every pass), completion
 * and deadlines are noticed once.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { advanceDrain, GracefulHolds, type AdvanceInput } from '../../../src/coordinator/drain-advance.js';
import type { DrainRecord } from '../../../src/coordinator/model.js';
import type { PolicyEvaluation } from '../../../src/wire/coordinator-api.js';
import { drainRecord, report } from './fixtures.js';

const P = '198.51.100.10/32';
const inventory = {
  sites: [{ name: 'lon1', region: 'eu', location: { lat: 0, lon: 0 }, nodes: ['lon1-a'] }],
};
const allowed: PolicyEvaluation = { allowed: true, violations: [] };
const refused: PolicyEvaluation = {
  allowed: false,
  violations: [{ rule: 'minAnnouncingSites', message: 'would leave 1 site', retryable: true }],
};

/** `now` is the wall clock; the hold has lasted `now - createdAt` unless `heldForMs` says otherwise. */
function input(drain: DrainRecord, now: number, extra: Partial<AdvanceInput> = {}): AdvanceInput {
  return {
    heldForMs: now - drain.createdAt,
    drain,
    inventory,
    reports: new Map(),
    isStale: () => false,
    observerConfigured: false,
    observation: null,
    defaultHoldMs: 1000,
    evaluateWithdraw: () => {
      throw new Error('not evaluated before the hold has passed');
    },
    now,
    ...extra,
  };
}

describe('advanceDrain', () => {
  const drain = drainRecord('d-1', { site: 'lon1' }, { createdAt: 1000 });

  it('does not evaluate the withdraw step before the graceful hold has passed', () => {
    const result = advanceDrain(input(drain, 1999));
    assert.equal(result.next.phase, 'graceful');
  });

  it('measures the hold with heldForMs (monotonic), whatever the wall clock says', () => {
    // Wall clock stepped an hour forward: the hold has still lasted 999 ms of 1000.
    const forward = advanceDrain(input(drain, 1000 + 3_600_000, { heldForMs: 999 }));
    assert.equal(forward.next.phase, 'graceful');
    assert.deepEqual(forward.notices, []);
    // Wall clock stepped an hour back: the hold has lasted 1000 ms, the step is taken.
    const back = advanceDrain(
      input(drain, 1000 - 3_600_000, { heldForMs: 1000, evaluateWithdraw: () => allowed }),
    );
    assert.equal(back.next.phase, 'withdraw');
  });

  it('takes the withdraw step once the hold passed and the policy allows it', () => {
    const result = advanceDrain(input(drain, 2000, { evaluateWithdraw: () => allowed }));
    assert.equal(result.next.phase, 'withdraw');
    assert.deepEqual(result.notices, ['withdraw-step']);
    assert.ok(result.stored);
  });

  it('records a block once and keeps the graceful phase; the next pass adds nothing', () => {
    const first = advanceDrain(input(drain, 2000, { evaluateWithdraw: () => refused }));
    assert.equal(first.next.phase, 'graceful');
    assert.deepEqual(
      first.next.blocked.map((v) => v.rule),
      ['minAnnouncingSites'],
    );
    assert.deepEqual(
      first.audit.map((a) => a.action),
      ['drain.step', 'drain.blocked'],
    );
    const second = advanceDrain(input(first.next, 3000, { evaluateWithdraw: () => refused }));
    assert.deepEqual(second.notices, []);
    assert.equal(second.stored, false);
  });

  it('notices completion from the agent report, and a passed deadline, once each', () => {
    const withdrawn = report(
      'lon1-a',
      'lon1',
      [{ prefix: P, desired: 'withdraw', acknowledged: 'withdraw' }],
      {
        drains: ['d-1'],
      },
    );
    const base = { ...drain, phase: 'withdraw' as const, deadline: 5000 };
    const done = advanceDrain(input(base, 6000, { reports: new Map([['lon1-a', withdrawn]]) }));
    assert.deepEqual(done.notices.sort(), ['completed', 'overdue']);
    assert.equal(done.next.completedAt, 6000);
    assert.equal(done.next.overdue, true);
    const again = advanceDrain(input(done.next, 7000, { reports: new Map([['lon1-a', withdrawn]]) }));
    assert.deepEqual(again.notices, []);
  });
});

describe('GracefulHolds', () => {
  it('counts from the first sight of a graceful drain on the monotonic clock, and forgets', () => {
    let mono = 50_000;
    const holds = new GracefulHolds(() => mono);
    const graceful = drainRecord('d-1', { site: 'lon1' }, { createdAt: 1000 });
    // Seen for the first time (created now, or loaded after a restart): the hold starts now.
    assert.equal(holds.heldFor(graceful), 0);
    mono += 400;
    assert.equal(holds.heldFor(graceful), 400);
    mono += 600;
    assert.equal(holds.heldFor(graceful), 1000);
    // Past its graceful phase it is forgotten; seen graceful again, its hold starts over.
    assert.equal(holds.heldFor({ ...graceful, phase: 'withdraw' }), 0);
    assert.equal(holds.heldFor(graceful), 0);
    mono += 100;
    assert.equal(holds.heldFor(graceful), 100);
    // Released or gone: forgotten.
    holds.retain([]);
    assert.equal(holds.heldFor(graceful), 0);
  });
});
