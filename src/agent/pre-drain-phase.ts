/**
 * The pre-drain phase, as a pure decision. It runs before a drain reaches the state machine
 * (before GRACEFUL_SHUTDOWN and the withdraw), for stateful services such as TURN relays whose
 * sessions break when the anycast route moves:
 *   1. steer new sessions away while the route is still announced (coturn `aas`, or a command);
 *   2. read the live session count until it is at or below the threshold, or the deadline passes;
 *   3. then let the drain through (GRACEFUL_SHUTDOWN, then withdraw, as without a pre-drain).
 * A release at any point undoes the steering. A steer or gauge command that fails or hangs never
 * holds the drain beyond the deadline; its error is kept for status. No I/O, no clock.
 */

export interface PreDrainSettings {
  /** Count at or below which the drain proceeds. */
  threshold: number;
  /** How long the pre-drain may hold the drain back, from the drain's arrival. */
  deadlineMs: number;
  /** Whether a steer action is configured (coturn alternates or a steer command). */
  steers: boolean;
}

export type PreDrainState =
  | { phase: 'idle' }
  | {
      phase: 'steering' | 'waiting';
      since: number;
      /** The steering was applied (so a release must undo it). */
      steered: boolean;
      count?: number;
      countAt?: number;
      steerError?: string;
      gaugeError?: string;
    }
  | {
      phase: 'complete';
      since: number;
      completedAt: number;
      reason: 'threshold' | 'deadline';
      steered: boolean;
      count?: number;
      steerError?: string;
      gaugeError?: string;
    };

export type PreDrainEvent =
  | { kind: 'drain-requested'; now: number }
  | { kind: 'drain-released'; now: number }
  | { kind: 'steered'; now: number; error?: string | undefined }
  | { kind: 'gauged'; now: number; count?: number | undefined; error?: string | undefined }
  | { kind: 'tick'; now: number };

export type PreDrainAction = 'steer' | 'gauge' | 'release';

export interface PreDrainStep {
  state: PreDrainState;
  actions: PreDrainAction[];
}

export const IDLE: PreDrainState = { phase: 'idle' };

/** Whether the pre-drain still holds the drain back from the state machine. */
export function holdsDrainBack(state: PreDrainState): boolean {
  return state.phase === 'steering' || state.phase === 'waiting';
}

function complete(
  state: Extract<PreDrainState, { phase: 'steering' | 'waiting' }>,
  now: number,
  reason: 'threshold' | 'deadline',
): PreDrainState {
  const { phase: _phase, ...rest } = state;
  return { ...rest, phase: 'complete', completedAt: now, reason };
}

export function decidePreDrain(
  state: PreDrainState,
  event: PreDrainEvent,
  settings: PreDrainSettings,
): PreDrainStep {
  const stay: PreDrainStep = { state, actions: [] };
  if (event.kind === 'drain-released') {
    if (state.phase === 'idle') return stay;
    // Undo the steering whatever the phase: a steer still in flight may land after this.
    return { state: IDLE, actions: state.steered || state.phase === 'steering' ? ['release'] : [] };
  }
  if (state.phase === 'idle') {
    if (event.kind !== 'drain-requested') return stay;
    const since = event.now;
    return settings.steers
      ? { state: { phase: 'steering', since, steered: false }, actions: ['steer'] }
      : { state: { phase: 'waiting', since, steered: false }, actions: ['gauge'] };
  }
  if (state.phase === 'complete') return stay;
  const pastDeadline = event.now >= state.since + settings.deadlineMs;
  switch (event.kind) {
    case 'drain-requested':
      return stay;
    case 'steered': {
      if (state.phase !== 'steering') return stay;
      const next: PreDrainState = {
        ...state,
        phase: 'waiting',
        steered: event.error === undefined,
        ...(event.error !== undefined ? { steerError: event.error } : {}),
      };
      return pastDeadline
        ? { state: complete(next, event.now, 'deadline'), actions: [] }
        : { state: next, actions: ['gauge'] };
    }
    case 'gauged': {
      const { gaugeError: _previous, ...rest } = state;
      const next: Extract<PreDrainState, { phase: 'steering' | 'waiting' }> =
        event.error !== undefined || event.count === undefined
          ? { ...rest, gaugeError: event.error ?? 'no count' }
          : { ...rest, count: event.count, countAt: event.now };
      if (event.error === undefined && event.count !== undefined && event.count <= settings.threshold)
        return { state: complete(next, event.now, 'threshold'), actions: [] };
      if (pastDeadline) return { state: complete(next, event.now, 'deadline'), actions: [] };
      return { state: next, actions: [] };
    }
    case 'tick':
      if (pastDeadline) return { state: complete(state, event.now, 'deadline'), actions: [] };
      // While the steer is in flight, nothing to read yet; afterwards, read the count again.
      return state.phase === 'waiting' ? { state, actions: ['gauge'] } : stay;
  }
}
