/**
 * The route writer's decisions, as pure functions over its per-prefix records: which prefix to
 * write next, whether everything desired is acknowledged, and how long to wait after a failure.
 */
import type { RouteIntent } from './commands.js';

export interface PrefixRecord {
  prefix: string;
  desired: RouteIntent | null;
  /** The command for `desired` (compared to decide whether anything must be written). */
  desiredCommand: string | null;
  acknowledged: RouteIntent | 'unknown';
  /** The command ExaBGP acknowledged with `done`; null while unknown. */
  acknowledgedCommand: string | null;
  acknowledgedAt: number | null;
  lastError: string | null;
  /** Consecutive failures of this prefix's command (sets the retry delay). */
  failures: number;
  /** True while waiting out the retry delay after a failure. */
  backingOff: boolean;
}

/** True when ExaBGP must be told something for this prefix. */
export function needsWrite(record: PrefixRecord): boolean {
  return record.desiredCommand !== null && record.desiredCommand !== record.acknowledgedCommand;
}

/** The first prefix (in the order prefixes were first desired) that needs a write and is not backing off. */
export function pickNext(records: Iterable<PrefixRecord>): PrefixRecord | null {
  for (const record of records) if (needsWrite(record) && !record.backingOff) return record;
  return null;
}

/** Every desired intent acknowledged exactly as desired. */
export function isConverged(records: Iterable<PrefixRecord>): boolean {
  for (const record of records) if (needsWrite(record)) return false;
  return true;
}

/** initial, 2x, 4x ... capped at max, for the n-th consecutive failure (n >= 1). */
export function retryDelay(failures: number, initialMs: number, maxMs: number): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 30);
  return Math.min(initialMs * 2 ** exponent, maxMs);
}
