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

export function writeLastUp(stateDir: string, up: boolean, nowWallMs: number): void {
  writeJsonAtomic(lastUpFile(stateDir), { up, at: nowWallMs });
}
