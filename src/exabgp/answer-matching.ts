/**
 * Who a `done`/`error` from ExaBGP belongs to. ExaBGP's answers carry no id, so the route writer
 * keeps one command outstanding and uses `show neighbor summary` as an ordering barrier: ExaBGP
 * runs it in the same FIFO queue as route commands and answers with a fixed header line and then
 * `done`, so that pair comes after every answer to earlier commands. This module is the pure
 * decision; route-writer.ts acts on it.
 */

export interface MatchState {
  /** True once a barrier has been answered and no timeout or stray answer happened since. */
  inStep: boolean;
  /** A summary header arrived: the next answer belongs to a barrier (ours, or an earlier one). */
  barrierAnswerNext: boolean;
}

export type Outstanding = 'none' | 'route' | 'barrier';

export type Attribution =
  /** The outstanding barrier is answered: from now on answers match commands. */
  | 'barrier-answered'
  /** The answer to an earlier barrier that timed out: ignore it. */
  | 'earlier-barrier'
  /** The answer to the outstanding route command. */
  | 'route'
  /** Out of step: it belongs to some earlier command; discard it. */
  | 'discarded'
  /** In step with nothing outstanding: something else talks to ExaBGP; get back in step. */
  | 'unexpected';

export const START_STATE: MatchState = { inStep: false, barrierAnswerNext: false };

/** The summary header of a barrier's answer was read. */
export function onSummaryHeader(state: MatchState): MatchState {
  return { ...state, barrierAnswerNext: true };
}

/** A `done` or `error` was read while `outstanding` was waiting for its answer. */
export function attributeAnswer(
  state: MatchState,
  outstanding: Outstanding,
): { attribution: Attribution; next: MatchState } {
  if (state.barrierAnswerNext) {
    const next = { ...state, barrierAnswerNext: false };
    return outstanding === 'barrier'
      ? { attribution: 'barrier-answered', next: { ...next, inStep: true } }
      : { attribution: 'earlier-barrier', next };
  }
  if (outstanding === 'route' && state.inStep) return { attribution: 'route', next: state };
  if (!state.inStep) return { attribution: 'discarded', next: state };
  return { attribution: 'unexpected', next: { ...state, inStep: false } };
}

/**
 * The outstanding command got no answer in time: its answer may still come, so answers can no
 * longer be matched until a barrier is answered. A header seen without its answer is forgotten
 * (if its answer does come, out of step it is discarded anyway).
 */
export function onTimeout(_state: MatchState): MatchState {
  return { inStep: false, barrierAnswerNext: false };
}
