/**
 * node-cron at the edge: validating window expressions and time zones, finding the next start
 * after a given time (for the pure window schedule), and firing a callback at each start.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from '../util/log.js';
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
 * The next start strictly after a time. node-cron computes this internally but only exposes it
 * from "now"; its matcher is used when present, otherwise a bounded scan with the public match().
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

/** Calls `onStart` at every start of the expression; returns a stop function. */
export function scheduleStarts(
  expression: string,
  timezone: string | null,
  name: string,
  onStart: () => void,
  logger: Logger,
): () => void {
  const task: ScheduledTask = cron.schedule(expression, () => onStart(), {
    name,
    noOverlap: true,
    ...(timezone ? { timezone } : {}),
    logger: {
      info: (message) => logger.debug({ window: name }, message),
      warn: (message) => logger.warn({ window: name }, message),
      error: (message) => logger.error({ window: name }, String(message)),
      debug: (message) => logger.debug({ window: name }, String(message)),
    },
  });
  return () => void task.destroy();
}
