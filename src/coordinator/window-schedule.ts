/**
 * The maintenance-window schedule as a pure decision: given a window, the time and a way to
 * find the next cron start, what should happen now? Start an occurrence (create its drain),
 * retry a refused start, end it (flag the drain overdue), or release it automatically.
 * Being a function of the stored occurrence and the clock, it resumes correctly after a
 * restart: an occurrence in progress is neither repeated nor forgotten.
 */
import type { WindowRecord } from './model.js';

/** First cron start strictly after `afterMs`, or null when there is none. */
export type NextStart = (afterMs: number) => number | null;

export type WindowAction =
  | { kind: 'start'; startedAt: number; endsAt: number }
  | { kind: 'retry' }
  | { kind: 'end' }
  | { kind: 'auto-release'; drainId: string }
  | { kind: 'none' };

export interface WindowDecisionInput {
  window: Pick<WindowRecord, 'durationMs' | 'createdAt' | 'occurrence' | 'autoRelease'>;
  now: number;
  nextStart: NextStart;
  /** Whether the drain of the last occurrence is still held. */
  drainActive: (id: string) => boolean;
}

/** The occurrence of the schedule that contains `now`, starting after `notBefore`, if any. */
export function activeOccurrence(
  now: number,
  durationMs: number,
  notBefore: number,
  nextStart: NextStart,
): { startedAt: number; endsAt: number } | null {
  const start = nextStart(Math.max(now - durationMs, notBefore));
  if (start === null || start > now) return null;
  return { startedAt: start, endsAt: start + durationMs };
}

export function decideWindow(input: WindowDecisionInput): WindowAction[] {
  const { window, now } = input;
  const occurrence = window.occurrence;
  if (occurrence && !occurrence.ended) {
    if (now >= occurrence.endsAt) return [{ kind: 'end' }];
    return occurrence.drainId === null ? [{ kind: 'retry' }] : [{ kind: 'none' }];
  }
  const actions: WindowAction[] = [];
  if (occurrence?.ended && window.autoRelease && occurrence.drainId && input.drainActive(occurrence.drainId))
    actions.push({ kind: 'auto-release', drainId: occurrence.drainId });
  // Starts before the window existed, or not after the last occurrence, never run.
  const notBefore = Math.max(window.createdAt - 1, occurrence?.startedAt ?? -Infinity);
  const next = activeOccurrence(now, window.durationMs, notBefore, input.nextStart);
  if (next) actions.push({ kind: 'start', ...next });
  return actions.length ? actions : [{ kind: 'none' }];
}
