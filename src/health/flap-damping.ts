/**
 * Flap damping, in the spirit of BGP route-flap damping (RFC 2439, Cisco/Juniper "dampening"):
 * every fall from UP adds `penaltyPerFlap` to a penalty that halves every `halfLife`. When a fall
 * takes the penalty to `suppressAt` or above, the node is held down: it may not return to UP. The
 * hold-down ends at the EARLIER of
 *   - the penalty decaying below `reuseAt`, and
 *   - `maxHoldDown` after the hold-down began (further falls while held down do not extend it).
 *
 * `maxHoldDown` bounds how long a hold-down lasts; it never makes suppression impossible. (The
 * RFC's way, capping the penalty at reuseAt × 2^(maxHoldDown / halfLife), does both at once, and
 * with a short maxHoldDown the cap falls below suppressAt: damping silently off. Here the cap is
 * never below suppressAt, and the duration is bounded on its own.) The penalty is kept after a
 * release by maxHoldDown: a node that falls again soon is held down again at once.
 *
 * Pure functions over a small value; time is a monotonic millisecond clock supplied by the caller.
 */

/** The `flapDamping` config section (durations in ms); declared here so the schema can use this module. */
export interface FlapDampingConfig {
  enabled: boolean;
  penaltyPerFlap: number;
  suppressAt: number;
  reuseAt: number;
  halfLife: number;
  maxHoldDown: number;
}

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

/**
 * The highest the penalty goes: what decays to reuseAt in maxHoldDown (the RFC's ceiling, so the
 * memory of a flapping node fades within about maxHoldDown), but never below suppressAt.
 */
export function penaltyCeiling(config: FlapDampingConfig): number {
  return Math.max(config.reuseAt * Math.pow(2, config.maxHoldDown / config.halfLife), config.suppressAt);
}

/** Brings the state forward to `now`: decays the penalty and ends a hold-down that is over. */
export function dampingAt(state: DampingState, config: FlapDampingConfig, now: number): DampingState {
  const penalty = decayed(state.penalty, now - state.updatedAt, config.halfLife);
  const since = state.suppressedSince;
  const over = since !== null && (penalty < config.reuseAt || now - since >= config.maxHoldDown);
  return { penalty, updatedAt: now, flaps: state.flaps, suppressedSince: over ? null : since };
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
  const untilReuse = config.halfLife * Math.log2(current.penalty / config.reuseAt);
  const untilMax = current.suppressedSince + config.maxHoldDown - now;
  return Math.max(0, Math.ceil(Math.min(untilReuse, untilMax)));
}

/** A node that needs more back-to-back falls than this before it is held down counts as undamped. */
export const MAX_FLAPS_TO_SUPPRESS = 50;

/** The probe timing that decides how fast a node can flap. */
export interface FlapTiming {
  interval: number;
  fastInterval: number;
  rise: number;
  fall: number;
}

/**
 * The shortest time between two falls from UP: the falling round comes `interval` after the last
 * UP round, then fall-1 rounds at fastInterval to DOWN; `interval` later the first good round,
 * then rise-1 rounds at fastInterval to UP again. (Rounds that time out are only slower.)
 */
export function fastestFlapPeriodMs(timing: FlapTiming): number {
  return 2 * timing.interval + (timing.fall - 1 + timing.rise - 1) * timing.fastInterval;
}

/**
 * How many falls, each `periodMs` after the last, take the penalty to suppressAt; null when no
 * number does (the penalty levels off below it).
 */
export function flapsToSuppress(config: FlapDampingConfig, periodMs: number): number | null {
  let state = initialDamping;
  for (let flap = 1; flap <= MAX_FLAPS_TO_SUPPRESS; flap++) {
    state = recordFlap({ ...state, suppressedSince: null }, { ...config, enabled: true }, flap * periodMs);
    if (state.suppressedSince !== null) return flap;
  }
  return null;
}

/** How long a node that fell takes to come back when nothing holds it: the first good round, then rise-1 more. */
export function naturalReturnMs(timing: FlapTiming): number {
  return timing.interval + (timing.rise - 1) * timing.fastInterval;
}

/**
 * Why this damping config can never hold a node down (with the probe timing given), or null when
 * it can. `herald check` refuses a config for which any of these is true:
 * - a node flapping as fast as the agent lets it does not reach suppressAt within
 *   MAX_FLAPS_TO_SUPPRESS falls (the penalty levels off below it, or crawls up to it);
 * - maxHoldDown is no longer than a fallen node takes to come back anyway, so a hold-down would
 *   end before it could keep the node from anything;
 * - reuseAt is so close to suppressAt that a hold-down begun at suppressAt decays away before
 *   the node could come back anyway.
 */
export function dampingProblem(config: FlapDampingConfig, timing: FlapTiming): string | null {
  if (!config.enabled) return null;
  const timingText = `interval ${timing.interval} ms, fastInterval ${timing.fastInterval} ms, rise ${timing.rise}, fall ${timing.fall}`;
  const fix = 'or set enabled: false to turn damping off on purpose';
  const back = naturalReturnMs(timing);
  if (config.maxHoldDown <= back)
    return (
      `expected maxHoldDown above ${back} ms (a fallen node's way back: interval + (rise - 1) × fastInterval ` +
      `with ${timingText}), received maxHoldDown ${config.maxHoldDown} ms: a hold-down would end before it ` +
      `held anything back; raise maxHoldDown, ${fix}`
    );
  const shortest = config.halfLife * Math.log2(config.suppressAt / config.reuseAt);
  if (shortest <= back)
    return (
      `expected reuseAt further below suppressAt: a hold-down begun at suppressAt ${config.suppressAt} decays ` +
      `below reuseAt ${config.reuseAt} in ${Math.round(shortest)} ms (halfLife ${config.halfLife} ms), no longer ` +
      `than a fallen node takes to come back anyway (${back} ms with ${timingText}); lower reuseAt, raise ` +
      `halfLife, ${fix}`
    );
  const period = fastestFlapPeriodMs(timing);
  if (flapsToSuppress(config, period) !== null) return null;
  const level = config.penaltyPerFlap / (1 - Math.pow(2, -period / config.halfLife));
  const below = level < config.suppressAt;
  return (
    `expected a config that can hold a flapping node down, received one that cannot: a node falling ` +
    `as fast as it can (every ${period} ms with ${timingText}) levels off at a penalty of ` +
    `${Math.round(level)} (penaltyPerFlap ${config.penaltyPerFlap}, halfLife ${config.halfLife} ms), ` +
    `${below ? 'below' : 'too slowly to reach'} suppressAt ${config.suppressAt}` +
    `${below ? '' : ` within ${MAX_FLAPS_TO_SUPPRESS} falls`}; raise penaltyPerFlap or halfLife, lower ` +
    `suppressAt, ${fix}`
  );
}
