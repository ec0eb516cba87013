import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isHardFailure } from '../../../src/health/hard-evidence.js';
import {
  announcementFor,
  applyProbeRound,
  holdDownView,
  initialState,
  wantsFastInterval,
  type MachineParams,
  type MachineState,
} from '../../../src/health/state-machine.js';

const P4 = '198.51.100.10/32';
const damping = {
  enabled: true,
  penaltyPerFlap: 1000,
  suppressAt: 2500,
  reuseAt: 750,
  halfLife: 60_000,
  maxHoldDown: 600_000,
};
const params: MachineParams = { rise: 3, fall: 3, damping };
const defaults = { refused: true, reset: true, statuses: [] as number[] };

function up(): MachineState {
  let state = initialState([P4]);
  for (let i = 0; i < 3; i += 1) state = applyProbeRound(state, params, true, i * 1000);
  assert.equal(state.health, 'UP');
  return state;
}

describe('hard evidence', () => {
  test('refused and reset are hard by default; timeouts, garbage and other codes are soft', () => {
    assert.equal(isHardFailure({ status: 'down', evidence: 'refused' }, defaults), true);
    assert.equal(isHardFailure({ status: 'down', evidence: 'reset' }, defaults), true);
    assert.equal(isHardFailure({ status: 'down' }, defaults), false, 'a timeout');
    assert.equal(isHardFailure({ status: 'down', sipCode: 503 }, defaults), false, '503 not configured');
    assert.equal(isHardFailure({ status: 'up', evidence: 'refused' }, defaults), false, 'only failures');
  });

  test('each kind can be turned off, and SIP statuses turned on', () => {
    assert.equal(
      isHardFailure({ status: 'down', evidence: 'refused' }, { ...defaults, refused: false }),
      false,
    );
    assert.equal(isHardFailure({ status: 'down', evidence: 'reset' }, { ...defaults, reset: false }), false);
    assert.equal(isHardFailure({ status: 'down', sipCode: 503 }, { ...defaults, statuses: [503] }), true);
    assert.equal(isHardFailure({ status: 'down', sipCode: 500 }, { ...defaults, statuses: [503] }), false);
  });

  test('a hard failure takes an UP node DOWN (withdrawn) in one round and counts as a flap', () => {
    const state = applyProbeRound(up(), params, false, 3000, 'hard');
    assert.equal(state.health, 'DOWN');
    assert.equal(announcementFor(state, P4), 'withdraw');
    assert.equal(state.damping.flaps, 1);
    assert.equal(holdDownView(state, params, 3000).penalty, 1000);
  });

  test('a soft failure still needs fall rounds', () => {
    let state = up();
    state = applyProbeRound(state, params, false, 3000, 'soft');
    assert.equal(state.health, 'FALLING');
    assert.equal(announcementFor(state, P4), 'announce');
    assert.equal(wantsFastInterval(state, params, 3000), true);
    state = applyProbeRound(state, params, false, 3200);
    assert.equal(state.health, 'FALLING');
    state = applyProbeRound(state, params, false, 3400);
    assert.equal(state.health, 'DOWN');
    assert.equal(state.damping.flaps, 1);
  });

  test('a hard failure while FALLING on timeouts finishes the fall at once', () => {
    let state = applyProbeRound(up(), params, false, 3000);
    state = applyProbeRound(state, params, false, 3200, 'hard');
    assert.equal(state.health, 'DOWN');
    assert.equal(state.damping.flaps, 1, 'one fall, one flap');
  });

  test('rise is unchanged after a hard fall: rise good rounds to return', () => {
    let state = applyProbeRound(up(), params, false, 3000, 'hard');
    state = applyProbeRound(state, params, true, 4000);
    assert.equal(state.health, 'RISING');
    state = applyProbeRound(state, params, true, 4200);
    assert.equal(state.health, 'RISING');
    state = applyProbeRound(state, params, true, 4400);
    assert.equal(state.health, 'UP');
  });

  test('repeated hard falls (a crash loop) hold the node down by flap damping', () => {
    let state = up();
    let now = 3000;
    for (let flap = 0; flap < 3; flap += 1) {
      state = applyProbeRound(state, params, false, now, 'hard');
      for (let i = 0; i < 3; i += 1) state = applyProbeRound(state, params, true, (now += 200));
      now += 200;
    }
    assert.equal(state.damping.flaps, 3);
    assert.equal(holdDownView(state, params, now).active, true);
    assert.notEqual(state.health, 'UP', 'held down in RISING');
    assert.equal(announcementFor(state, P4), 'withdraw');
  });
});
