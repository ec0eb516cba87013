/**
 * How long the agent keeps honouring the coordinator's panic once the coordinator falls silent
 * (docs/panic-mode.md, "fail-static, bounded"): `holdMs` after the later of the last contact and
 * the panic's receipt. Decided on the monotonic clock only, so setting the wall clock back cannot
 * stretch the hold (nor forward cut it short); the wall-clock expiry is for the status display,
 * anchored at the wall time of that same moment.
 */

/** A moment as both clocks saw it: `mono` decides, `wall` (unix ms) is shown. */
export interface Instant {
  mono: number;
  wall: number;
}

export interface PanicHoldInput {
  holdMs: number;
  /** When the agent accepted the panic directive. */
  receivedAt: Instant;
  /** The coordinator's last word (stream data or an accepted report); null before any. */
  lastContact: Instant | null;
  /** The push stream is open: the coordinator is there to lift the panic itself. */
  connected: boolean;
  /** Monotonic now. */
  now: number;
}

export interface PanicHold {
  inForce: boolean;
  /** Unix ms when it lapses if the silence lasts; null while connected. */
  expiresAt: number | null;
}

export function panicHold(input: PanicHoldInput): PanicHold {
  if (input.connected) return { inForce: true, expiresAt: null };
  const contact = input.lastContact;
  const from = contact && contact.mono > input.receivedAt.mono ? contact : input.receivedAt;
  return {
    inForce: input.now - from.mono < input.holdMs,
    expiresAt: from.wall + input.holdMs,
  };
}
