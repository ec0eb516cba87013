/**
 * Durations in config files: a number of milliseconds, or a string such as "200ms", "1s", "1.5s", "5m", "2h".
 * Everything inside herald works in milliseconds.
 */
import { z } from 'zod';
import { DURATION_PATTERN, formatDuration, parseDuration } from './duration-text.js';

export { formatDuration, parseDuration };

/** A zod schema accepting a duration string or milliseconds and producing milliseconds. */
export function duration(bounds: { min?: number; max?: number } = {}) {
  const min = bounds.min ?? 0;
  const max = bounds.max ?? 7 * 86_400_000;
  return (
    z
      .union(
        [
          z.number().nonnegative(),
          z
            .string()
            .regex(DURATION_PATTERN, { message: 'expected a duration such as "200ms", "1s" or "5m"' }),
        ],
        { error: 'expected a duration such as "200ms", "1s" or "5m", or milliseconds' },
      )
      // Whole milliseconds everywhere: a fractional value would pass here and be refused downstream
      // (the agent's wire schema), so round it once at the edge.
      .transform((value) => (typeof value === 'number' ? Math.round(value) : parseDuration(value)!))
      .refine((ms) => ms >= min && ms <= max, {
        message: `expected a duration between ${formatDuration(min)} and ${formatDuration(max)}`,
      })
  );
}
