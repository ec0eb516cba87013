/**
 * What a client's persistent registration went through when its connection broke, whatever the
 * client (SIPp over TCP, herald's own TLS client): one session per connection, its 200s with the
 * node that answered, and how long the client had no 200 before it was registered again. Pure.
 */

export interface RegistrationReply {
  /** Unix ms. */
  at: number;
  /** The lab node that answered (from the Server header). */
  node: string | undefined;
}

/** One connection of one client, from its start to its end. */
export interface RegistrationSession {
  client: number;
  startedAt: number;
  endedAt: number | undefined;
  replies: RegistrationReply[];
  /** What ended it, with unix ms times (the first one is when the client saw the break). */
  errors: { at: number; text: string }[];
  /** Ended because the connection was reset, closed by the far end or went dead (not stopped by us). */
  reset: boolean;
}

/** What happened to one client's registration when its connection broke. */
export interface Reregistration {
  client: number;
  from: string | undefined;
  to: string | undefined;
  /** Last 200 on the old connection → first 200 on a new one: how long it had no working registration flow. */
  gapMs: number;
  /** The break the client saw → first 200 on a new connection. */
  afterResetMs: number;
}

/**
 * For every connection broken within [from, until) (its end, unix ms), how the client re-registered:
 * the first 200 on any later connection of the same client (a reconnect that failed or broke
 * before its first 200 counts as time without one).
 */
export function reregistrations(
  sessions: readonly RegistrationSession[],
  from = 0,
  until = Infinity,
): Reregistration[] {
  const result: Reregistration[] = [];
  for (const session of sessions) {
    if (!session.reset || session.endedAt === undefined) continue;
    if (session.endedAt < from || session.endedAt >= until) continue;
    const next = sessions.find(
      (s) => s.client === session.client && s.startedAt >= session.endedAt! && s.replies.length > 0,
    );
    const last = session.replies.at(-1);
    const first = next?.replies[0];
    const resetAt = session.errors[0]?.at ?? session.endedAt;
    if (!last || !first) continue;
    result.push({
      client: session.client,
      from: last.node,
      to: first.node,
      gapMs: first.at - last.at,
      afterResetMs: first.at - resetAt,
    });
  }
  return result;
}

/** The sessions that were open at `at` (started before, not ended before). */
export function openAt(sessions: readonly RegistrationSession[], at: number): RegistrationSession[] {
  return sessions.filter((s) => s.startedAt <= at && (s.endedAt === undefined || s.endedAt >= at));
}
