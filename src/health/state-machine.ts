/**
 * The health state machine: pure functions from (state, input) to state. Nothing here does I/O
 * or reads a clock; the agent feeds it probe rounds, the set of drained prefixes and time.
 *
 * Health (per node):  INIT → RISING → UP → FALLING → DOWN → RISING …  with `rise`/`fall` counts
 * and flap damping holding a flapping node in RISING. A failed round with hard evidence (the
 * proxy's port refused or reset, hard-evidence.ts) goes straight to DOWN, counted as a flap like
 * any fall; rise never changes.
 * Drain (per prefix): none → draining (GRACEFUL_SHUTDOWN for holdMs) → drained → returning
 * (needs `rise` good rounds after the undrain) → none.
 * A prefix is announced only while health is UP or FALLING and its drain phase allows it: a drain
 * can only take a route away, never put one up.
 */
import type { FlapDampingConfig } from '../config/agent-schema.js';
import type { Announcement, HealthState } from '../wire/agent-status.js';
import {
  dampingAt,
  holdDownRemainingMs,
  initialDamping,
  isHeldDown,
  recordFlap,
  type DampingState,
} from './flap-damping.js';
import type { RoundEvidence } from './hard-evidence.js';

export type NodeHealth = 'INIT' | 'RISING' | 'UP' | 'FALLING' | 'DOWN';

export type PrefixDrain =
  | { phase: 'none' }
  | { phase: 'draining'; since: number; holdMs: number }
  | { phase: 'drained' }
  | { phase: 'returning'; good: number };

export interface MachineState {
  health: NodeHealth;
  /** Consecutive good rounds (counts up to rise while RISING). */
  good: number;
  /** Consecutive bad rounds (counts up to fall while FALLING). */
  bad: number;
  damping: DampingState;
  prefixes: Record<string, PrefixDrain>;
}

export interface MachineParams {
  rise: number;
  fall: number;
  damping: FlapDampingConfig;
}

export function initialState(prefixes: readonly string[]): MachineState {
  return {
    health: 'INIT',
    good: 0,
    bad: 0,
    damping: initialDamping,
    prefixes: Object.fromEntries(prefixes.map((prefix) => [prefix, { phase: 'none' } as PrefixDrain])),
  };
}

const ANNOUNCING: ReadonlySet<NodeHealth> = new Set(['UP', 'FALLING']);

export function isHealthAnnouncing(health: NodeHealth): boolean {
  return ANNOUNCING.has(health);
}

/**
 * Applies one probe round's verdict (all checks, after quorum) at monotonic time `now`.
 * `evidence` matters only for a failed round: 'hard' counts as `fall` bad rounds at once.
 */
export function applyProbeRound(
  state: MachineState,
  params: MachineParams,
  healthy: boolean,
  now: number,
  evidence: RoundEvidence = 'soft',
): MachineState {
  let { health, good, bad, damping } = state;
  if (healthy) {
    bad = 0;
    good = Math.min(good + 1, params.rise);
    if (health === 'INIT' || health === 'DOWN') health = 'RISING';
    if (health === 'FALLING') health = 'UP';
    if (health === 'RISING' && good >= params.rise && !isHeldDown(damping, params.damping, now))
      health = 'UP';
  } else {
    good = 0;
    bad = evidence === 'hard' ? params.fall : Math.min(bad + 1, params.fall);
    if (health === 'UP') health = 'FALLING';
    if (health === 'FALLING' && bad >= params.fall) {
      health = 'DOWN';
      damping = recordFlap(damping, params.damping, now);
    }
    if (health === 'INIT' || health === 'RISING') health = 'DOWN';
  }

  const prefixes: Record<string, PrefixDrain> = {};
  for (const [prefix, drain] of Object.entries(state.prefixes)) {
    if (drain.phase === 'returning') {
      const returningGood = healthy ? drain.good + 1 : 0;
      prefixes[prefix] =
        health === 'UP' && returningGood >= params.rise
          ? { phase: 'none' }
          : { phase: 'returning', good: returningGood };
    } else if (drain.phase === 'draining' && !isHealthAnnouncing(health)) {
      // The node failed while de-preferred: nothing left to hold gracefully.
      prefixes[prefix] = { phase: 'drained' };
    } else {
      prefixes[prefix] = drain;
    }
  }
  return { health, good, bad, damping: dampingAt(damping, params.damping, now), prefixes };
}

/**
 * Warm start: the previous agent was UP moments ago and this first round passed, so the route
 * ExaBGP still holds is kept instead of being withdrawn and re-announced after `rise` rounds.
 * Only from INIT; a held-down node never warm-starts.
 */
export function applyWarmStart(
  state: MachineState,
  params: MachineParams,
  healthy: boolean,
  now: number,
  evidence: RoundEvidence = 'soft',
): MachineState {
  if (state.health !== 'INIT' || !healthy || isHeldDown(state.damping, params.damping, now))
    return applyProbeRound(state, params, healthy, now, evidence);
  return { ...state, health: 'UP', good: params.rise, bad: 0 };
}

/**
 * Applies the current set of drain holds: `held` maps each drained prefix to the graceful hold
 * to use (Infinity: hold gracefully until told otherwise). Prefixes not in `held` are released
 * (they return after `rise` good rounds).
 */
export function applyDrains(
  state: MachineState,
  held: ReadonlyMap<string, number>,
  now: number,
): MachineState {
  let changed = false;
  const prefixes: Record<string, PrefixDrain> = {};
  for (const [prefix, drain] of Object.entries(state.prefixes)) {
    const holdMs = held.get(prefix);
    let next: PrefixDrain = drain;
    if (holdMs !== undefined) {
      if (drain.phase === 'none') {
        const announcedNow = isHealthAnnouncing(state.health);
        next = announcedNow && holdMs > 0 ? { phase: 'draining', since: now, holdMs } : { phase: 'drained' };
      } else if (drain.phase === 'returning') {
        next = { phase: 'drained' };
      } else if (drain.phase === 'draining' && drain.holdMs !== holdMs) {
        // The hold changed (e.g. the coordinator cleared the withdraw step): still counted from the start.
        next = { ...drain, holdMs };
      }
    } else if (drain.phase === 'draining') {
      // Released during the graceful phase: the route was never withdrawn, so it goes straight back.
      next = isHealthAnnouncing(state.health) ? { phase: 'none' } : { phase: 'returning', good: 0 };
    } else if (drain.phase === 'drained') {
      next = { phase: 'returning', good: 0 };
    }
    if (next !== drain) changed = true;
    prefixes[prefix] = next;
  }
  return changed ? { ...state, prefixes } : state;
}

/** Advances timers: ends graceful holds whose time is up. */
export function applyTime(state: MachineState, now: number): MachineState {
  let changed = false;
  const prefixes: Record<string, PrefixDrain> = {};
  for (const [prefix, drain] of Object.entries(state.prefixes)) {
    const done = drain.phase === 'draining' && now - drain.since >= drain.holdMs;
    prefixes[prefix] = done ? { phase: 'drained' } : drain;
    changed ||= done;
  }
  return changed ? { ...state, prefixes } : state;
}

/** What ExaBGP should hold for a prefix. */
export function announcementFor(state: MachineState, prefix: string): Announcement {
  const drain = state.prefixes[prefix] ?? { phase: 'none' };
  if (!isHealthAnnouncing(state.health)) return 'withdraw';
  if (drain.phase === 'none') return 'announce';
  if (drain.phase === 'draining') return 'graceful';
  return 'withdraw';
}

/** The state shown for one prefix. */
export function prefixState(state: MachineState, prefix: string): HealthState {
  const drain = state.prefixes[prefix] ?? { phase: 'none' };
  if (drain.phase === 'draining') return 'DRAINING';
  if (drain.phase === 'drained') return 'DRAINED';
  if (drain.phase === 'returning') return isHealthAnnouncing(state.health) ? 'RISING' : state.health;
  return state.health;
}

/** The node's overall state: DRAINED/DRAINING when every prefix is, otherwise its health. */
export function nodeState(state: MachineState): HealthState {
  const states = Object.keys(state.prefixes).map((prefix) => prefixState(state, prefix));
  if (states.length && states.every((s) => s === 'DRAINED')) return 'DRAINED';
  if (states.length && states.every((s) => s === 'DRAINED' || s === 'DRAINING')) return 'DRAINING';
  return state.health;
}

/** Whether the next round should come after fastInterval (something is in transition). */
export function wantsFastInterval(state: MachineState, params: MachineParams, now: number): boolean {
  if (state.health === 'FALLING' || state.health === 'INIT') return true;
  if (state.health === 'RISING') return !isHeldDown(state.damping, params.damping, now);
  return Object.values(state.prefixes).some((drain) => drain.phase === 'returning');
}

/** The earliest monotonic time at which applyTime would change something, or null. */
export function nextTimerAt(state: MachineState): number | null {
  let next: number | null = null;
  for (const drain of Object.values(state.prefixes))
    if (drain.phase === 'draining' && Number.isFinite(drain.holdMs))
      next = Math.min(next ?? Infinity, drain.since + drain.holdMs);
  return next;
}

export function holdDownView(state: MachineState, params: MachineParams, now: number) {
  const current = dampingAt(state.damping, params.damping, now);
  const remainingMs = holdDownRemainingMs(state.damping, params.damping, now);
  return { active: remainingMs > 0, remainingMs, penalty: Math.round(current.penalty), flaps: current.flaps };
}
