/**
 * The pre-drain phase's decisions: steer first, then read the count until the threshold or the
 * deadline; a failed or hung steer or gauge never holds the drain past the deadline and is kept
 * for status; a release at any point undoes the steering.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decidePreDrain,
  holdsDrainBack,
  IDLE,
  type PreDrainEvent,
  type PreDrainSettings,
  type PreDrainState,
} from '../../../src/agent/pre-drain-phase.js';

const settings: PreDrainSettings = { threshold: 1, deadlineMs: 10_000, steers: true };

function run(events: PreDrainEvent[], start: PreDrainState = IDLE, s = settings) {
  let state = start;
  const actions: string[] = [];
  for (const event of events) {
    const step = decidePreDrain(state, event, s);
    state = step.state;
    actions.push(...step.actions);
  }
  return { state, actions };
}

describe('pre-drain phase', () => {
  test('a drain steers, then gauges until the count is at or below the threshold', () => {
    const { state, actions } = run([
      { kind: 'drain-requested', now: 0 },
      { kind: 'steered', now: 10 },
      { kind: 'gauged', now: 20, count: 5 },
      { kind: 'tick', now: 1000 },
      { kind: 'gauged', now: 1010, count: 1 },
    ]);
    assert.deepEqual(actions, ['steer', 'gauge', 'gauge']);
    assert.equal(state.phase, 'complete');
    assert.ok(
      state.phase === 'complete' && state.reason === 'threshold' && state.count === 1 && state.steered,
    );
    assert.equal(holdsDrainBack(state), false);
  });

  test('while steering and waiting the drain is held back', () => {
    const steering = run([{ kind: 'drain-requested', now: 0 }]).state;
    assert.equal(steering.phase, 'steering');
    assert.ok(holdsDrainBack(steering));
    const waiting = run(
      [
        { kind: 'steered', now: 5 },
        { kind: 'gauged', now: 6, count: 9 },
      ],
      steering,
    ).state;
    assert.equal(waiting.phase, 'waiting');
    assert.ok(holdsDrainBack(waiting));
  });

  test('without steering it goes straight to reading the count', () => {
    const { state, actions } = run([{ kind: 'drain-requested', now: 0 }], IDLE, {
      ...settings,
      steers: false,
    });
    assert.equal(state.phase, 'waiting');
    assert.deepEqual(actions, ['gauge']);
  });

  test('the deadline ends the wait with sessions still live', () => {
    const { state } = run([
      { kind: 'drain-requested', now: 0 },
      { kind: 'steered', now: 10 },
      { kind: 'gauged', now: 20, count: 50 },
      { kind: 'tick', now: 10_000 },
    ]);
    assert.ok(state.phase === 'complete' && state.reason === 'deadline' && state.count === 50);
  });

  test('a failing gauge is reported and never blocks beyond the deadline', () => {
    const waiting = run([
      { kind: 'drain-requested', now: 0 },
      { kind: 'steered', now: 10 },
      { kind: 'gauged', now: 20, error: 'coturn CLI: connection refused' },
    ]).state;
    assert.ok(waiting.phase === 'waiting' && waiting.gaugeError === 'coturn CLI: connection refused');
    const done = run([{ kind: 'tick', now: 10_001 }], waiting).state;
    assert.ok(done.phase === 'complete' && done.reason === 'deadline' && done.gaugeError);
  });

  test('a hung steer never blocks beyond the deadline; a failed one is reported and not undone', () => {
    const hung = run([
      { kind: 'drain-requested', now: 0 },
      { kind: 'tick', now: 1000 },
      { kind: 'tick', now: 10_000 },
    ]);
    assert.equal(hung.state.phase, 'complete');
    assert.deepEqual(hung.actions, ['steer']);
    const failed = run([
      { kind: 'drain-requested', now: 0 },
      { kind: 'steered', now: 10, error: 'aas refused' },
      { kind: 'drain-released', now: 20 },
    ]);
    assert.deepEqual(failed.actions, ['steer', 'gauge']);
    assert.equal(failed.state.phase, 'idle');
  });

  test('a release undoes the steering in every phase, and a new drain starts over', () => {
    for (const upTo of [1, 2, 4]) {
      const events: PreDrainEvent[] = [
        { kind: 'drain-requested', now: 0 },
        { kind: 'steered', now: 10 },
        { kind: 'gauged', now: 20, count: 5 },
        { kind: 'gauged', now: 30, count: 0 },
      ].slice(0, upTo) as PreDrainEvent[];
      const { state, actions } = run([...events, { kind: 'drain-released', now: 40 }]);
      assert.equal(state.phase, 'idle');
      assert.equal(actions.at(-1), 'release', `after ${upTo} events`);
    }
    const again = run([{ kind: 'drain-requested', now: 50 }]);
    assert.equal(again.state.phase, 'steering');
  });
});
