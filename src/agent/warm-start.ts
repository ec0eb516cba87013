/**
 * Warm start after a crash. Routes survive a helper crash, and ExaBGP respawns the agent within
 * milliseconds; withdrawing and re-announcing then would move traffic away from a healthy PoP for
 * `rise` rounds. So the agent records, atomically, when it was last UP (on every transition and
 * every few seconds while UP). A new agent that finds a record younger than the warm window skips
 * the blind withdraw, runs one probe round first, and goes straight to UP only if that round
 * passes; otherwise it reconciles exactly like a cold start. A reboot or a long outage is older
 * than the window and always starts cold.
 */
import { join } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../util/log.js';
import { coerceError } from '../util/errors.js';
import { readJsonFile, writeJsonAtomic } from './state-file.js';

const lastUpSchema = z.object({ up: z.boolean(), at: z.number() });

/** How often the record is refreshed while UP. */
export const WARM_REFRESH_MS = 5000;
/** A record older than this (wall clock) means a cold start. */
export const WARM_WINDOW_MS = 15_000;

export function lastUpFile(stateDir: string): string {
  return join(stateDir, 'last-up.json');
}

/** Whether a record says the node was UP recently enough to trust a single good round. */
export function isWarm(record: { up: boolean; at: number } | null, nowWallMs: number): boolean {
  if (!record?.up) return false;
  const age = nowWallMs - record.at;
  // A record from the future (clock stepped back) is not trusted either.
  return age >= 0 && age <= WARM_WINDOW_MS;
}

export function readLastUp(stateDir: string): { up: boolean; at: number } | null {
  try {
    return readJsonFile(lastUpFile(stateDir), lastUpSchema.nullable(), null);
  } catch {
    return null; // unreadable: start cold
  }
}

/**
 * Writes the record atomically but without fsync: it only matters to an agent respawned after a
 * crash of this process (the page cache survives that), and after a reboot it is too old anyway.
 */
export function writeLastUp(stateDir: string, up: boolean, nowWallMs: number): void {
  writeJsonAtomic(lastUpFile(stateDir), { up, at: nowWallMs }, { durable: false });
}

export interface WarmStartClock {
  /** Monotonic ms: the refresh interval. */
  now(): number;
  /** Unix ms: what the record holds (the next agent process reads it). */
  wallNow(): number;
}

/**
 * Keeps the record current for the agent loop: written on every change of announcing health and
 * every WARM_REFRESH_MS while UP, never more. A write that fails is logged once (the next start
 * is cold) and retried on the next call.
 */
export class WarmStartRecorder {
  private written: boolean | null = null;
  private writtenAt = -Infinity;

  constructor(
    private readonly write: (up: boolean, wallMs: number) => void,
    private readonly clock: WarmStartClock,
    private readonly logger: Logger,
  ) {}

  record(up: boolean): void {
    const now = this.clock.now();
    if (up === this.written && !(up && now - this.writtenAt >= WARM_REFRESH_MS)) return;
    try {
      this.write(up, this.clock.wallNow());
      this.written = up;
      this.writtenAt = now;
    } catch (error) {
      if (this.written !== null)
        this.logger.warn(
          { err: coerceError(error) },
          'could not record the warm-start state; a restart will start cold',
        );
      this.written = null;
    }
  }
}
