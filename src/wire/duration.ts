/**
 * Durations in config files: a number of milliseconds, or a string such as "200ms", "1s", "1.5s", "5m", "2h".
 * Everything inside herald works in milliseconds.
 */
import { z } from 'zod';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION_PATTERN = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;

/** Parses "1.5s" → 1500. Returns undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION_PATTERN.exec(text.trim());
  if (!match) return undefined;
  return Math.round(Number(match[1]) * UNIT_MS[match[2]!]!);
}

/** Formats milliseconds the way a person writes them in a config file. */
export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0 && ms > 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

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
