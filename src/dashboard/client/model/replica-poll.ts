/**
 * How the page follows the coordinator replicas. No event says that a replica joined or died or
 * that leadership moved (a replica's directory entry simply expires with its lease), so a page
 * served by a replica with nothing else happening would show a dead leader until the
 * minute-long full reload. The page re-reads the fleet every half lease TTL (within 1–5 s), and
 * applies it only when the replicas or the store changed: a fleet document re-applied every
 * poll would rebuild the site detail (its buttons with it) every poll, since a replica stamps
 * nodes served elsewhere as seen "now". A single coordinator (SQLite) is not polled.
 */
import type { FleetStatus } from '../../../wire/coordinator-api.js';

export const REPLICA_POLL_MIN_MS = 1000;
export const REPLICA_POLL_MAX_MS = 5000;

/** Milliseconds between fleet reads for this fleet, or null when it has no replicas to follow. */
export function replicaPollMs(fleet: FleetStatus | null): number | null {
  const replicas = fleet?.replicas;
  if (!replicas || replicas.engine !== 'etcd') return null;
  const half = (replicas.leaseTtl ?? REPLICA_POLL_MAX_MS * 2) / 2;
  return Math.min(REPLICA_POLL_MAX_MS, Math.max(REPLICA_POLL_MIN_MS, half));
}

/** Whether a read is due, `lastReadAt` being the last time the fleet was read (applied or not). */
export function replicaPollDue(fleet: FleetStatus | null, lastReadAt: number, now: number): boolean {
  const every = replicaPollMs(fleet);
  return every !== null && now - lastReadAt >= every;
}

/** What the page shows of the replicas and the store (the grace countdown moves by itself). */
function replicasShown(fleet: FleetStatus | null): string {
  if (!fleet) return '';
  const { staleGraceRemaining: _countdown, ...replicas } = fleet.replicas ?? { staleGraceRemaining: 0 };
  return JSON.stringify([replicas, fleet.store ?? null]);
}

/** Whether a freshly read fleet differs from the shown one in its replicas or its store. */
export function replicasChanged(shown: FleetStatus | null, read: FleetStatus): boolean {
  return replicasShown(shown) !== replicasShown(read);
}
