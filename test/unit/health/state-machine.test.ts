import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  announcementFor,
  applyDrains,
  applyProbeRound,
  applyTime,
  applyWarmStart,
  holdDownView,
  initialState,
  nextTimerAt,
  nodeState,
  prefixState,
  wantsFastInterval,
  type MachineParams,
  type MachineState,
} from '../../../src/health/state-machine.js';
import {
  holdDownRemainingMs,
  initialDamping,
  isHeldDown,
  recordFlap,
} from '../../../src/health/flap-damping.js';
import { roundIsHealthy } from '../../../src/health/quorum.js';

const P4 = '198.51.100.10/32';
const P6 = '2001:db8::10/128';
const noDamping = {
  enabled: false,
  penaltyPerFlap: 1000,
  suppressAt: 2500,
  reuseAt: 750,
  halfLife: 60_000,
  maxHoldDown: 600_000,
};
const params: MachineParams = { rise: 3, fall: 3, damping: noDamping };

/** Feeds a string of rounds ("+" healthy, "-" unhealthy) one second apart; returns the states seen. */
function run(
  rounds: string,
  p: MachineParams = params,
  start = initialState([P4]),
): { states: string[]; final: MachineState } {
  let state = start;
  const states: string[] = [];
  [...rounds].forEach((round, i) => {
    state = applyProbeRound(state, p, round === '+', i * 1000);
    states.push(state.health);
  });
  return { states, final: state };
}

describe('health state machine', () => {
  const table: Array<[string, string, string[]]> = [
    ['rises after exactly rise good rounds', '+++', ['RISING', 'RISING', 'UP']],
    [
      'a bad round while rising starts over',
      '++-+++',
      ['RISING', 'RISING', 'DOWN', 'RISING', 'RISING', 'UP'],
    ],
    [
      'falls after exactly fall bad rounds',
      '+++---',
      ['RISING', 'RISING', 'UP', 'FALLING', 'FALLING', 'DOWN'],
    ],
    [
      'one good round while falling returns to UP',
      '+++--+',
      ['RISING', 'RISING', 'UP', 'FALLING', 'FALLING', 'UP'],
    ],
    ['a first bad round goes straight to DOWN', '-', ['DOWN']],
    [
      'comes back from DOWN after rise good rounds',
      '---+++',
      ['DOWN', 'DOWN', 'DOWN', 'RISING', 'RISING', 'UP'],
    ],
  ];
  for (const [name, rounds, expected] of table)
    test(name, () => assert.deepEqual(run(rounds).states, expected));

  test('rise 1 / fall 1 react on the first round', () => {
    assert.deepEqual(run('+-+', { ...params, rise: 1, fall: 1 }).states, ['UP', 'DOWN', 'UP']);
  });

  test('announces only while UP or FALLING', () => {
    const seen = [...'+++---'].map((_, i) => announcementFor(run('+++---'.slice(0, i + 1)).final, P4));
    assert.deepEqual(seen, ['withdraw', 'withdraw', 'announce', 'announce', 'announce', 'withdraw']);
  });

  test('asks for the fast interval while rising or falling, not while stable', () => {
    const { final: up } = run('+++');
    const { final: falling } = run('+++-');
    const { final: down } = run('+++---');
    assert.equal(wantsFastInterval(run('+').final, params, 1000), true);
    assert.equal(wantsFastInterval(up, params, 3000), false);
    assert.equal(wantsFastInterval(falling, params, 4000), true);
    assert.equal(wantsFastInterval(down, params, 6000), false);
  });
});

describe('flap damping', () => {
  const damping = { ...noDamping, enabled: true };
  const p: MachineParams = { rise: 1, fall: 1, damping };

  test('a node flapping repeatedly is held down and its hold-down is visible', () => {
    const { final, states } = run('+-+-+-+', p);
    // Three flaps push the penalty over suppressAt: the last good round stays RISING.
    assert.deepEqual(states, ['UP', 'DOWN', 'UP', 'DOWN', 'UP', 'DOWN', 'RISING']);
    const view = holdDownView(final, p, 6000);
    assert.equal(view.active, true);
    assert.equal(view.flaps, 3);
    assert.ok(view.remainingMs > 60_000 && view.remainingMs <= 600_000, `remaining ${view.remainingMs}`);
    assert.equal(announcementFor(final, P4), 'withdraw');
  });

  test('the hold-down decays: the node returns once the penalty is below reuseAt', () => {
    const { final } = run('+-+-+-+', p);
    const remaining = holdDownView(final, p, 6000).remainingMs;
    const stillHeld = applyProbeRound(final, p, true, 6000 + remaining - 1000);
    assert.equal(stillHeld.health, 'RISING');
    const released = applyProbeRound(final, p, true, 6000 + remaining + 1000);
    assert.equal(released.health, 'UP');
  });

  test('further flaps lengthen the hold-down, but never past maxHoldDown after it began', () => {
    // While held down a node cannot flap again, so feed the damping module flaps directly.
    let state = initialDamping;
    const remaining: number[] = [];
    for (let i = 0; i < 12; i++) {
      state = recordFlap(state, damping, i * 1000);
      remaining.push(holdDownRemainingMs(state, damping, i * 1000));
    }
    assert.deepEqual(remaining.slice(0, 2), [0, 0], 'two flaps stay below suppressAt');
    for (let i = 3; i < 6; i++)
      assert.ok(remaining[i]! > remaining[i - 1]!, `flap ${i + 1} lengthens the hold-down`);
    // The hold-down began at the third flap (t = 2000 ms).
    remaining.forEach((ms, i) =>
      assert.ok(ms <= 2000 + damping.maxHoldDown - i * 1000, `flap ${i + 1}: ${ms}`),
    );
    for (let i = 12; i < 1000; i++) state = recordFlap(state, damping, 12_000);
    assert.equal(holdDownRemainingMs(state, damping, 12_000), 2000 + damping.maxHoldDown - 12_000);
    assert.equal(isHeldDown(state, damping, 2000 + damping.maxHoldDown - 1), true);
    assert.equal(isHeldDown(state, damping, 2000 + damping.maxHoldDown), false);
  });

  test('a maxHoldDown shorter than the RFC ceiling allows still holds down, and bounds the hold-down (issue 18)', () => {
    // Default halfLife 60 s with maxHoldDown 20 s: the old cap (945) was below suppressAt.
    const short = { ...damping, maxHoldDown: 20_000 };
    let state = initialDamping;
    for (let i = 0; i < 5; i++) state = recordFlap(state, short, i * 3000);
    assert.equal(isHeldDown(state, short, 12_000), true, 'five falls 3 s apart hold the node down');
    const began = state.suppressedSince!;
    assert.ok(holdDownRemainingMs(state, short, 12_000) <= began + 20_000 - 12_000);
    assert.equal(isHeldDown(state, short, began + 20_000), false, 'released maxHoldDown after it began');
    // The penalty is remembered: one more fall soon after holds it down again.
    assert.equal(isHeldDown(recordFlap(state, short, began + 21_000), short, began + 21_000), true);
  });

  test('flaps spread out over time do not hold the node down', () => {
    let state = initialState([P4]);
    for (let i = 0; i < 10; i++) {
      state = applyProbeRound(state, p, true, i * 600_000);
      state = applyProbeRound(state, p, false, i * 600_000 + 1000);
    }
    state = applyProbeRound(state, p, true, 10 * 600_000);
    assert.equal(state.health, 'UP');
  });
});

describe('drains', () => {
  const up = () => run('+++', params, initialState([P4, P6])).final;
  const held = (holdMs: number, ...prefixes: string[]) => new Map(prefixes.map((prefix) => [prefix, holdMs]));

  test('a drain announces GRACEFUL first, then withdraws when the hold ends', () => {
    let state = applyDrains(up(), held(5000, P4, P6), 10_000);
    assert.equal(announcementFor(state, P4), 'graceful');
    assert.equal(nodeState(state), 'DRAINING');
    state = applyTime(state, 14_999);
    assert.equal(announcementFor(state, P4), 'graceful');
    state = applyTime(state, 15_000);
    assert.equal(announcementFor(state, P4), 'withdraw');
    assert.equal(nodeState(state), 'DRAINED');
  });

  test('a zero hold withdraws at once', () => {
    const state = applyDrains(up(), held(0, P4), 10_000);
    assert.equal(announcementFor(state, P4), 'withdraw');
    assert.equal(prefixState(state, P4), 'DRAINED');
  });

  test('a drain of one prefix leaves the other announced', () => {
    const state = applyTime(applyDrains(up(), held(0, P6), 10_000), 10_000);
    assert.equal(announcementFor(state, P4), 'announce');
    assert.equal(announcementFor(state, P6), 'withdraw');
    assert.equal(nodeState(state), 'UP');
  });

  test('undrain returns only after rise good rounds', () => {
    let state = applyDrains(up(), held(0, P4, P6), 10_000);
    state = applyDrains(state, new Map(), 11_000);
    assert.equal(announcementFor(state, P4), 'withdraw');
    assert.equal(prefixState(state, P4), 'RISING');
    state = applyProbeRound(state, params, true, 12_000);
    state = applyProbeRound(state, params, true, 13_000);
    assert.equal(announcementFor(state, P4), 'withdraw');
    state = applyProbeRound(state, params, true, 14_000);
    assert.equal(announcementFor(state, P4), 'announce');
  });

  test('a bad round while returning starts the count over', () => {
    let state = applyDrains(applyDrains(up(), held(0, P4), 10_000), new Map(), 11_000);
    state = applyProbeRound(state, params, true, 12_000);
    state = applyProbeRound(state, params, true, 13_000);
    state = applyProbeRound(state, params, false, 14_000);
    state = applyProbeRound(state, params, true, 15_000);
    state = applyProbeRound(state, params, true, 16_000);
    assert.equal(announcementFor(state, P4), 'withdraw');
    state = applyProbeRound(state, params, true, 17_000);
    assert.equal(announcementFor(state, P4), 'announce');
  });

  test('a drain never makes an unhealthy node announce, even gracefully', () => {
    const down = run('-', params, initialState([P4])).final;
    const state = applyDrains(down, held(5000, P4), 1000);
    assert.equal(announcementFor(state, P4), 'withdraw');
    assert.equal(prefixState(state, P4), 'DRAINED');
  });

  test('a node that fails while draining withdraws at once', () => {
    let state = applyDrains(up(), held(60_000, P4), 10_000);
    for (let i = 1; i <= 3; i++) state = applyProbeRound(state, params, false, 10_000 + i * 200);
    assert.equal(announcementFor(state, P4), 'withdraw');
    assert.equal(prefixState(state, P4), 'DRAINED');
  });

  test('an undrain during the graceful phase goes straight back to announcing', () => {
    let state = applyDrains(up(), held(60_000, P4), 10_000);
    state = applyDrains(state, new Map(), 11_000);
    assert.equal(announcementFor(state, P4), 'announce');
  });

  test('an agent starting with a stored drain starts withdrawn and stays so when healthy', () => {
    let state = applyDrains(initialState([P4]), held(5000, P4), 0);
    state = run('+++', params, state).final;
    assert.equal(state.health, 'UP');
    assert.equal(announcementFor(state, P4), 'withdraw');
    assert.equal(prefixState(state, P4), 'DRAINED');
  });
});

describe('quorum', () => {
  test('all checks must pass by default; warn counts as passing', () => {
    assert.equal(roundIsHealthy(['up', 'warn', 'up'], 'all'), true);
    assert.equal(roundIsHealthy(['up', 'down', 'up'], 'all'), false);
  });
  test('a numeric quorum needs that many passing', () => {
    assert.equal(roundIsHealthy(['up', 'down', 'up'], 2), true);
    assert.equal(roundIsHealthy(['up', 'down', 'down'], 2), false);
  });
  test('no checks is never healthy', () => assert.equal(roundIsHealthy([], 'all'), false));
});

describe('coordinator step gate', () => {
  const up = () => run('+++', params, initialState([P4])).final;

  test('an endless hold keeps GRACEFUL_SHUTDOWN until the hold is cleared, counted from the drain start', () => {
    let state = applyDrains(up(), new Map([[P4, Infinity]]), 10_000);
    assert.equal(nextTimerAt(state), null);
    state = applyTime(state, 10_000 + 3_600_000);
    assert.equal(announcementFor(state, P4), 'graceful');
    // The coordinator clears the withdraw step with a 5 s hold: long past, so it withdraws at once.
    state = applyTime(applyDrains(state, new Map([[P4, 5000]]), 10_000 + 3_600_001), 10_000 + 3_600_001);
    assert.equal(announcementFor(state, P4), 'withdraw');
  });

  test('a cleared step with hold left waits for the rest of the hold', () => {
    let state = applyDrains(up(), new Map([[P4, Infinity]]), 10_000);
    state = applyDrains(state, new Map([[P4, 5000]]), 12_000);
    assert.equal(nextTimerAt(state), 15_000);
    assert.equal(announcementFor(applyTime(state, 14_999), P4), 'graceful');
    assert.equal(announcementFor(applyTime(state, 15_000), P4), 'withdraw');
  });
});

describe('warm start', () => {
  test('a passing first round after a recent UP goes straight to UP', () => {
    const state = applyWarmStart(initialState([P4]), params, true, 0);
    assert.equal(state.health, 'UP');
    assert.equal(announcementFor(state, P4), 'announce');
  });
  test('a failing first round is a cold start: DOWN, withdrawn', () => {
    const state = applyWarmStart(initialState([P4]), params, false, 0);
    assert.equal(state.health, 'DOWN');
    assert.equal(announcementFor(state, P4), 'withdraw');
  });
  test('a stored drain still holds on a warm start', () => {
    const drained = applyDrains(initialState([P4]), new Map([[P4, 5000]]), 0);
    assert.equal(announcementFor(applyWarmStart(drained, params, true, 0), P4), 'withdraw');
  });
});
