/**
 * When each agent last reported, shared between replicas without a write per heartbeat. The
 * health board (health-board.ts) is written only when a node's state changes, so on its own it
 * cannot say how long ago a quiet-but-fresh agent was heard. Each replica therefore keeps ONE
 * extra key, `<prefix>heard/<replica>`, holding the last report time of every agent connected to
 * it, rewritten at most once per period and only when a time changed (heard-board.ts does the
 * I/O). These are the pure parts: the period, the encoding, the change test and what a reading
 * replica shows.
 *
 * Every time here is a report's receive time on the serving replica's wall clock, never a time
 * of writing or reading, so a reader never shows a node as heard later than it really was.
 */
import type { NodeHealth } from './health-board.js';

/** One replica's shared times: node → when its agent's last report was received (unix ms). */
export type HeardTimes = ReadonlyMap<string, number>;

/**
 * How often a replica rewrites its heard key: a fifth of agents.staleAfter, between 0.5 s and
 * 5 s (3 s at the default 15 s). Well inside staleAfter, so a reading replica's age of a fresh
 * node stays below the age at which the page calls it stale (site-state.ts `isNodeStale`).
 */
export function heardPeriodMs(staleAfterMs: number): number {
  return Math.min(5000, Math.max(500, Math.round(staleAfterMs / 5)));
}

/**
 * The last report times of the nodes this replica serves (those with a report). `served` are the
 * nodes whose agents are connected here; `reports` the agents' reports as received here.
 */
export function servedHeardTimes(
  served: Iterable<string>,
  reports: ReadonlyMap<string, { receivedAt: number }>,
): Map<string, number> {
  const times = new Map<string, number>();
  for (const node of served) {
    const receivedAt = reports.get(node)?.receivedAt;
    if (receivedAt !== undefined) times.set(node, receivedAt);
  }
  return times;
}

/** Whether `next` differs from what was last written (undefined: nothing written yet). */
export function heardChanged(last: HeardTimes | undefined, next: HeardTimes): boolean {
  if (!last || last.size !== next.size) return true;
  for (const [node, at] of next) if (last.get(node) !== at) return true;
  return false;
}

/**
 * The key's value: `{"at": <the latest of the times, unix ms>, "ago": {"<node>": <ms before at>}}`.
 * Offsets from the latest time rather than absolute times keep it small (about 20 bytes a node:
 * 3,400 nodes on one replica, a third of 10,000, make about 70 KB, far below etcd's 1.5 MiB
 * request limit), and every offset is ≥ 0 whatever the clocks did. Times are whole milliseconds
 * (Date.now()), so they read back exactly.
 */
export function encodeHeard(times: HeardTimes): string {
  let latest = 0;
  for (const at of times.values()) latest = Math.max(latest, at);
  const ago: Record<string, number> = {};
  for (const [node, at] of times) ago[node] = latest - at;
  return JSON.stringify({ at: latest, ago });
}

/** The times a heard key holds, or undefined when its value is not one (then nothing is known). */
export function decodeHeard(value: string): Map<string, number> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { at, ago } = parsed as { at?: unknown; ago?: unknown };
  if (typeof at !== 'number' || !Number.isFinite(at) || typeof ago !== 'object' || ago === null)
    return undefined;
  const times = new Map<string, number>();
  for (const [node, offset] of Object.entries(ago as Record<string, unknown>))
    if (typeof offset === 'number' && Number.isFinite(offset) && offset >= 0) times.set(node, at - offset);
  return times;
}

/**
 * When a node another replica serves was last heard, as this replica can tell: the later of the
 * time its board entry carries (its report when the entry was last written) and the time its
 * serving replica's heard key holds. Both are real receive times of that node's reports, so the
 * answer is never later than the truth. Lateness: the heard key is rewritten every period
 * (`heardPeriodMs`) while times change, so the answer is at most one period plus the watch's
 * delivery older than the agent's last report; once the agent goes quiet, the next write carries
 * its very last report and the answer stops moving. Null when neither is known (an entry written
 * by a replica of a version without these times).
 */
export function lastHeardAt(health: NodeHealth, heardOfItsReplica: HeardTimes | undefined): number | null {
  return laterOf(health.heardAt ?? null, heardOfItsReplica?.get(health.node) ?? null);
}

/** The later of two times, either unknown (null). */
export function laterOf(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b);
}
