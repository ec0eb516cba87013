/** Attributing ExaBGP's id-less answers: the pure decision behind the route writer's barrier. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  attributeAnswer,
  onSummaryHeader,
  onTimeout,
  START_STATE,
  type Attribution,
  type MatchState,
  type Outstanding,
} from '../../../src/exabgp/answer-matching.js';

const inStep: MatchState = { inStep: true, barrierAnswerNext: false };

test('every combination of state and outstanding command', () => {
  const cases: Array<[MatchState, Outstanding, Attribution, MatchState]> = [
    // out of step: only a barrier's header-and-answer counts
    [START_STATE, 'barrier', 'discarded', START_STATE],
    [START_STATE, 'none', 'discarded', START_STATE],
    [onSummaryHeader(START_STATE), 'barrier', 'barrier-answered', inStep],
    [onSummaryHeader(START_STATE), 'none', 'earlier-barrier', START_STATE],
    // in step
    [inStep, 'route', 'route', inStep],
    [inStep, 'none', 'unexpected', START_STATE],
    [onSummaryHeader(inStep), 'route', 'earlier-barrier', inStep],
    [onSummaryHeader(inStep), 'none', 'earlier-barrier', inStep],
  ];
  for (const [state, outstanding, attribution, next] of cases)
    assert.deepEqual(
      attributeAnswer(state, outstanding),
      { attribution, next },
      `${JSON.stringify(state)} with ${outstanding} outstanding`,
    );
});

test('a timeout puts the writer out of step and forgets a header without its answer', () => {
  assert.deepEqual(onTimeout(onSummaryHeader(inStep)), START_STATE);
});

test('a late answer, then the barrier: only the barrier brings the writer back in step', () => {
  let state = onTimeout(inStep);
  const late = attributeAnswer(state, 'barrier');
  assert.equal(late.attribution, 'discarded');
  state = onSummaryHeader(late.next);
  const barrier = attributeAnswer(state, 'barrier');
  assert.equal(barrier.attribution, 'barrier-answered');
  assert.equal(attributeAnswer(barrier.next, 'route').attribution, 'route');
});
