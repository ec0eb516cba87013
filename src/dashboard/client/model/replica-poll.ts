/**
 * How often the page re-reads the fleet document to follow the coordinator replicas. No event
 * says that a replica joined, died or that leadership moved (a replica's directory entry simply
 * expires with its lease), so a page served by a replica with nothing else happening would show
 * a dead leader for up to the minute-long full reload. Half the lease TTL, within 1–5 s, keeps
 * the indicator within about one TTL of the truth; a single coordinator (SQLite) is not polled.
 */
import type { FleetStatus } from '../../../wire/coordinator-api.js';

export const REPLICA_POLL_MIN_MS = 1000;
export const REPLICA_POLL_MAX_MS = 5000;

/** Milliseconds between fleet reloads for this fleet, or null when it has no replicas to follow. */
export function replicaPollMs(fleet: FleetStatus | null): number | null {
  const replicas = fleet?.replicas;
  if (!replicas || replicas.engine !== 'etcd') return null;
  const half = (replicas.leaseTtl ?? REPLICA_POLL_MAX_MS * 2) / 2;
  return Math.min(REPLICA_POLL_MAX_MS, Math.max(REPLICA_POLL_MIN_MS, half));
}

/** Whether the fleet document is due for a reload to follow the replicas. */
export function replicaPollDue(fleet: FleetStatus | null, receivedAt: number, now: number): boolean {
  const every = replicaPollMs(fleet);
  return every !== null && now - receivedAt >= every;
}
