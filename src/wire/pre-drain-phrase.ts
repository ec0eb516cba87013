/**
 * How an agent's pre-drain reads in `herald drain --wait`, `herald status`, the coordinator's
 * drain progress and the dashboard: one phrase per phase, with the live session count. Pure and
 * without runtime imports (the page bundles it).
 */
import type { PreDrainStatus } from './agent-status.js';

/** "06:52:10Z": deadlines are shown as a UTC time of day (a countdown would change every second). */
function clockTime(unixMs: number): string {
  return `${new Date(unixMs).toISOString().slice(11, 19)}Z`;
}

function sessions(count: number): string {
  return `${count} session${count === 1 ? '' : 's'}`;
}

/** Whether the pre-drain still holds the drain back (before GRACEFUL_SHUTDOWN). */
export function preDrainActive(status: Pick<PreDrainStatus, 'phase'> | undefined): boolean {
  return status?.phase === 'steering' || status?.phase === 'waiting';
}

/**
 * One line: "pre-drain: waiting for sessions: 3 live, threshold 0 (deadline 06:52:10Z)",
 * "pre-drain: steering new sessions away", "pre-drain: gauge failed: … (count unknown; …)",
 * "pre-drain done: 0 sessions ≤ threshold 0", "pre-drain done at its deadline with 3 sessions
 * live". Errors of the steer and gauge commands are always named.
 */
export function preDrainPhrase(status: PreDrainStatus): string {
  const deadline = status.deadlineAt !== undefined ? `deadline ${clockTime(status.deadlineAt)}` : '';
  const errors = [
    ...(status.steerError ? [`steering failed: ${status.steerError}`] : []),
    ...(status.gaugeError ? [`gauge failed: ${status.gaugeError}`] : []),
  ];
  const errorText = errors.length ? ` — ${errors.join('; ')}` : '';
  switch (status.phase) {
    case 'idle':
      return `pre-drain idle (threshold ${status.threshold})`;
    case 'steering':
      return `pre-drain: steering new sessions away${deadline ? ` (${deadline})` : ''}${errorText}`;
    case 'waiting': {
      const count = status.count === undefined ? 'count unknown' : `${status.count} live`;
      return `pre-drain: waiting for sessions: ${count}, threshold ${status.threshold}${deadline ? ` (${deadline})` : ''}${errorText}`;
    }
    case 'complete': {
      const what =
        status.reason === 'deadline'
          ? `pre-drain done at its deadline with ${status.count === undefined ? 'an unknown number of sessions' : sessions(status.count)} live`
          : `pre-drain done: ${status.count === undefined ? 'sessions' : sessions(status.count)} ≤ threshold ${status.threshold}`;
      return `${what}${errorText}`;
    }
  }
}

/** The short form for a badge or a metric label: steering, waiting N>T, deadline, gauge failed, done. */
export function preDrainBadge(status: PreDrainStatus): string {
  if (status.phase === 'complete') return status.reason === 'deadline' ? 'deadline passed' : 'done';
  if (status.phase === 'waiting' && status.gaugeError) return 'gauge failed';
  if (status.phase === 'waiting')
    return `waiting: ${status.count === undefined ? '?' : status.count} > ${status.threshold}`;
  return status.phase;
}
