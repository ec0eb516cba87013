/**
 * node-cron at the edge: validating window expressions and time zones, and finding the next start
 * after a given time for the pure window schedule. Nothing here fires timers: the coordinator's
 * one-second tick evaluates every window (window-runner.ts), so a start is acted on within a tick.
 */
import cron from 'node-cron';
import type { NextStart } from './window-schedule.js';

/** Problems with an expression or time zone, as "expected …, received …" sentences. */
export function cronProblems(expression: string, timezone?: string): string[] {
  const problems: string[] = [];
  const detail = cron.validateDetailed(expression);
  if (!detail.valid)
    for (const error of detail.errors)
      problems.push(
        `expected a valid cron ${error.field}, received ${JSON.stringify(error.value ?? expression)} (${error.message})`,
      );
  if (timezone !== undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    } catch {
      problems.push(
        `expected an IANA time zone such as "Europe/London", received ${JSON.stringify(timezone)}`,
      );
    }
  }
  return problems;
}

interface Matcher {
  getNextMatch(date: Date): Date;
}

/**
 * The next start strictly after a time. node-cron 4's public API cannot serve this: it answers
 * only from "now" (getNextRun, getNextRuns, msToNext) or for one instant (match). The schedule
 * needs it from any time: the occurrence that may be running at now - duration, a start missed
 * while the coordinator was down. So the task's internal matcher (getNextMatch, any horizon) is
 * used when present; should a node-cron release drop it, the public match() scan below takes
 * over, which finds starts within 8 days only (test/unit/coordinator/window-schedule.test.ts).
 */
export function nextStartFinder(expression: string, timezone: string | null): NextStart {
  const task = cron.createTask(expression, () => undefined, timezone ? { timezone } : {});
  const matcher = (task as unknown as { timeMatcher?: Partial<Matcher> }).timeMatcher;
  if (matcher && typeof matcher.getNextMatch === 'function') {
    const m = matcher as Matcher;
    return (afterMs) => {
      const next = m.getNextMatch(new Date(afterMs)).getTime();
      return Number.isFinite(next) ? next : null;
    };
  }
  const hasSeconds = expression.trim().split(/\s+/).length === 6;
  const step = hasSeconds ? 1000 : 60_000;
  return (afterMs) => {
    let t = Math.floor(afterMs / step) * step + step;
    for (let i = 0; i < (8 * 86_400_000) / step; i++, t += step) if (task.match(new Date(t))) return t;
    return null;
  };
}
