/**
 * Turns one round of check results into a single healthy/unhealthy verdict. By default every
 * check must pass; `quorum: N` needs N passing. "warn" counts as passing (the proxy answers).
 *
 * Panic mode (docs/panic-mode.md): while the coordinator's panic is in force, a failing check
 * marked `failOpen` counts as passing — but only if the proxy answered some network check in the
 * same round. A node where nothing answers (or only exec checks "answer") is judged as usual, so
 * a dead proxy is never kept announcing; a failing check that is not fail-open always counts.
 */
import type { ProbeStatus } from '../probes/types.js';

export function roundIsHealthy(statuses: readonly ProbeStatus[], quorum: 'all' | number): boolean {
  const passing = statuses.filter((status) => status !== 'down').length;
  const needed = quorum === 'all' ? statuses.length : quorum;
  return statuses.length > 0 && passing >= needed;
}

export interface RoundCheck {
  /** The check's type: exec checks run a local program, so their "answer" says nothing of the proxy. */
  type: string;
  status: ProbeStatus;
  /** The peer answered at all (a handshake, a reply, even an error reply). */
  answered: boolean;
  failOpen: boolean;
}

export interface RoundVerdict {
  healthy: boolean;
  /**
   * Indexes of failing fail-open checks counted as passing because of panic: only when ignoring
   * them is what makes the round healthy (empty when it passes anyway or fails anyway).
   */
  ignored: number[];
  /** Whether the proxy answered a network check this round (panic needs it). */
  proxyAnswered: boolean;
}

/** The verdict of one round, with panic mode applied when `panic` is true. Pure. */
export function judgeRound(
  checks: readonly RoundCheck[],
  quorum: 'all' | number,
  panic: boolean,
): RoundVerdict {
  const proxyAnswered = checks.some((c) => c.answered && c.type !== 'exec');
  const raw = roundIsHealthy(
    checks.map((c) => c.status),
    quorum,
  );
  if (raw || !panic || !proxyAnswered) return { healthy: raw, ignored: [], proxyAnswered };
  const ignored = checks.flatMap((c, index) => (c.status === 'down' && c.failOpen ? [index] : []));
  const healthy = roundIsHealthy(
    checks.map((c, index) => (ignored.includes(index) ? 'warn' : c.status)),
    quorum,
  );
  // Ignore something only when that is what keeps the node up: otherwise show every failure as it is.
  return { healthy, ignored: healthy ? ignored : [], proxyAnswered };
}
