/**
 * Honest progress: stages come from what the agent reports ExaBGP acknowledged (and what the
 * route observer sees), never from what was asked.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  drainComplete,
  nodeProgress,
  releaseComplete,
  releaseNodeProgress,
  type Observation,
} from '../../../src/coordinator/progress.js';
import type { NodeReport } from '../../../src/coordinator/model.js';
import type { NodeProgress } from '../../../src/wire/coordinator-api.js';
import { report } from './fixtures.js';

const P = '198.51.100.10/32';
const drain = { id: 'd-1', target: { site: 'lon1' } };

function stage(
  r: NodeReport | undefined,
  options: { observer?: Observation; configured?: boolean; previous?: NodeProgress } = {},
) {
  return nodeProgress({
    drain,
    node: 'lon1-a',
    report: r,
    stale: false,
    observerConfigured: options.configured ?? false,
    observation: options.observer ?? null,
    previous: options.previous,
    now: 5000,
  });
}

describe('node progress', () => {
  it('pending until the agent holds the drain, even if it already withdrew for health', () => {
    assert.equal(stage(undefined).stage, 'pending');
    assert.equal(
      stage(report('lon1-a', 'lon1', [{ prefix: P, desired: 'withdraw', acknowledged: 'withdraw' }])).stage,
      'pending',
    );
  });

  it('asked but not acknowledged is still pending', () => {
    const r = report(
      'lon1-a',
      'lon1',
      [{ prefix: P, desired: 'graceful', acknowledged: 'announce', drainedBy: ['d-1'] }],
      { drains: ['d-1'] },
    );
    assert.equal(stage(r).stage, 'pending');
  });

  it('draining once GRACEFUL_SHUTDOWN is acknowledged; withdrawn once the withdraw is', () => {
    const graceful = report(
      'lon1-a',
      'lon1',
      [{ prefix: P, desired: 'graceful', acknowledged: 'graceful', drainedBy: ['d-1'] }],
      { drains: ['d-1'] },
    );
    assert.equal(stage(graceful).stage, 'draining');
    const asked = report(
      'lon1-a',
      'lon1',
      [{ prefix: P, desired: 'withdraw', acknowledged: 'graceful', drainedBy: ['d-1'] }],
      { drains: ['d-1'] },
    );
    assert.equal(stage(asked).stage, 'draining');
    const done = report(
      'lon1-a',
      'lon1',
      [{ prefix: P, desired: 'withdraw', acknowledged: 'withdraw', drainedBy: ['d-1'] }],
      { drains: ['d-1'] },
    );
    assert.equal(stage(done).stage, 'withdrawn');
  });

  it('with an observer: verified only when the route is gone there, and not when the observer has not answered', () => {
    const done = report('lon1-a', 'lon1', [{ prefix: P, desired: 'withdraw', acknowledged: 'withdraw' }], {
      drains: ['d-1'],
    });
    assert.equal(stage(done, { configured: true, observer: null }).stage, 'withdrawn');
    assert.equal(stage(done, { configured: true, observer: new Map() }).stage, 'withdrawn');
    assert.equal(
      stage(done, { configured: true, observer: new Map([[P, new Set(['lon1-a'])]]) }).stage,
      'withdrawn',
    );
    assert.equal(
      stage(done, { configured: true, observer: new Map([[P, new Set(['fra1-a'])]]) }).stage,
      'verified',
    );
  });

  it('keeps the last known stage without a report (coordinator restarted) and its since', () => {
    const previous: NodeProgress = {
      node: 'lon1-a',
      stage: 'withdrawn',
      stale: false,
      detail: 'x',
      since: 1234,
    };
    const p = stage(undefined, { previous });
    assert.equal(p.stage, 'withdrawn');
    assert.equal(p.since, 1234);
  });

  it('a drain is complete only when every node reached the final stage', () => {
    const n = (stage: NodeProgress['stage']): NodeProgress => ({
      node: 'x',
      stage,
      stale: false,
      detail: '',
      since: 0,
    });
    assert.equal(drainComplete([n('withdrawn'), n('withdrawn')], false), true);
    assert.equal(drainComplete([n('withdrawn'), n('draining')], false), false);
    assert.equal(drainComplete([n('withdrawn'), n('verified')], true), false);
    assert.equal(drainComplete([n('verified'), n('verified')], true), true);
    assert.equal(drainComplete([], false), false);
  });
});

describe('release progress', () => {
  const base = { drainId: 'd-1', target: { site: 'lon1' }, node: 'lon1-a', stale: false };
  it('held while the agent still reports the drain; returning until ExaBGP catches up; returned after', () => {
    const held = report('lon1-a', 'lon1', [{ prefix: P, desired: 'withdraw', acknowledged: 'withdraw' }], {
      drains: ['d-1'],
    });
    assert.equal(releaseNodeProgress({ ...base, report: held, otherHolds: [] }).stage, 'held');
    const returning = report('lon1-a', 'lon1', [
      { prefix: P, desired: 'announce', acknowledged: 'withdraw' },
    ]);
    assert.equal(releaseNodeProgress({ ...base, report: returning, otherHolds: [] }).stage, 'returning');
    const back = report('lon1-a', 'lon1', [{ prefix: P, desired: 'announce', acknowledged: 'announce' }]);
    assert.equal(releaseNodeProgress({ ...base, report: back, otherHolds: [] }).detail, 'announcing again');
  });

  it('a healthy node still withdrawn right after the release is returning, not returned; a sick one is returned', () => {
    const released = report('lon1-a', 'lon1', [{ prefix: P, desired: 'withdraw', acknowledged: 'withdraw' }]);
    const up = releaseNodeProgress({ ...base, report: released, otherHolds: [] });
    assert.equal(up.stage, 'returning');
    assert.match(up.detail, /healthy; waiting for the agent to announce 198/);
    assert.equal(releaseComplete([up]), false);
    released.status.state = 'DOWN';
    const down = releaseNodeProgress({ ...base, report: released, otherHolds: [] });
    assert.equal(down.stage, 'returned');
    assert.match(down.detail, /withdrawn by local health \(DOWN\)/);
    assert.equal(releaseComplete([down]), true);
  });

  it("says so when another owner's hold keeps the node withdrawn", () => {
    const r = report('lon1-a', 'lon1', [{ prefix: P, desired: 'withdraw', acknowledged: 'withdraw' }], {
      drains: ['d-2'],
    });
    const p = releaseNodeProgress({ ...base, report: r, otherHolds: ['d-2 (bob)'] });
    assert.equal(p.stage, 'returned');
    assert.match(p.detail, /still drained by d-2 \(bob\)/);
  });
});
