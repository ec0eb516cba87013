/**
 * Flap damping, in the spirit of BGP route-flap damping (RFC 2439): every fall from UP adds a
 * penalty that decays exponentially; above `suppressAt` the node is held down (it may not
 * return to UP) until the penalty decays below `reuseAt`. The penalty is capped so that no
 * hold-down lasts longer than `maxHoldDown`. Pure functions over a small value; time is a
 * monotonic millisecond clock supplied by the caller.
 */
import type { FlapDampingConfig } from '../config/agent-schema.js';

export interface DampingState {
  /** Penalty as of `updatedAt`. */
  penalty: number;
  updatedAt: number;
  /** Flaps counted since start. */
  flaps: number;
  /** When the current hold-down began, or null when not held down. */
  suppressedSince: number | null;
}

export const initialDamping: DampingState = { penalty: 0, updatedAt: 0, flaps: 0, suppressedSince: null };

function decayed(penalty: number, elapsedMs: number, halfLifeMs: number): number {
  return penalty * Math.pow(2, -Math.max(0, elapsedMs) / halfLifeMs);
}

/** The highest penalty allowed: it decays to reuseAt in exactly maxHoldDown. */
function penaltyCeiling(config: FlapDampingConfig): number {
  return config.reuseAt * Math.pow(2, config.maxHoldDown / config.halfLife);
}

/** Brings the state forward to `now`: decays the penalty and ends a hold-down that is over. */
export function dampingAt(state: DampingState, config: FlapDampingConfig, now: number): DampingState {
  const penalty = decayed(state.penalty, now - state.updatedAt, config.halfLife);
  const suppressedSince =
    state.suppressedSince !== null && penalty >= config.reuseAt ? state.suppressedSince : null;
  return { penalty, updatedAt: now, flaps: state.flaps, suppressedSince };
}

/** Records a flap (a fall from UP to DOWN) at `now`. */
export function recordFlap(state: DampingState, config: FlapDampingConfig, now: number): DampingState {
  const current = dampingAt(state, config, now);
  if (!config.enabled) return { ...current, flaps: current.flaps + 1 };
  const penalty = Math.min(current.penalty + config.penaltyPerFlap, penaltyCeiling(config));
  const suppressedSince = current.suppressedSince ?? (penalty >= config.suppressAt ? now : null);
  return { penalty, updatedAt: now, flaps: current.flaps + 1, suppressedSince };
}

export function isHeldDown(state: DampingState, config: FlapDampingConfig, now: number): boolean {
  return config.enabled && dampingAt(state, config, now).suppressedSince !== null;
}

/** Milliseconds until the hold-down ends (0 when not held down). */
export function holdDownRemainingMs(state: DampingState, config: FlapDampingConfig, now: number): number {
  const current = dampingAt(state, config, now);
  if (!config.enabled || current.suppressedSince === null) return 0;
  return Math.max(0, Math.ceil(config.halfLife * Math.log2(current.penalty / config.reuseAt)));
}
