/**
 * Pure views of the fleet from the inventory and the agents' last reports: which nodes are
 * stale, which prefixes each node is announcing, which sites announce a prefix. A node counts
 * as announcing a prefix when it is not stale and ExaBGP acknowledged the prefix as announced
 * (normally or gracefully): health withdrawals and drains both take it out.
 *
 * Staleness is a duration, so it is measured on a monotonic clock: the wall clock (NTP steps, an
 * operator's `date`, a VM resuming) would keep a dead agent fresh when set back and make every
 * agent stale at once when set forward. Wall-clock times (`receivedAt`) are for display only.
 */
import type { SiteConfig } from './config-schema.js';
import type { NodeReport } from './model.js';

export interface Inventory {
  sites: readonly SiteConfig[];
}

/** Milliseconds on a clock that only moves forward, at the pace of real time; any origin. */
export type MonotonicClock = () => number;

export const monotonicClock: MonotonicClock = () => performance.now();

/** No report, or the last one arrived more than `staleAfterMs` ago on the monotonic clock. */
export function isStale(report: NodeReport | undefined, monotonicNow: number, staleAfterMs: number): boolean {
  return !report || monotonicNow - report.receivedAtMono > staleAfterMs;
}

/** Prefixes the report shows acknowledged as announced or graceful. */
export function acknowledgedAnnouncing(report: NodeReport | undefined): string[] {
  if (!report) return [];
  return report.status.prefixes
    .filter((p) => p.acknowledged === 'announce' || p.acknowledged === 'graceful')
    .map((p) => p.prefix);
}

/** node → prefixes it announces right now (stale nodes announce nothing as far as policy goes). */
export function announcingByNode(
  reports: ReadonlyMap<string, NodeReport>,
  monotonicNow: number,
  staleAfterMs: number,
): Map<string, Set<string>> {
  const result = new Map<string, Set<string>>();
  for (const [node, report] of reports) {
    if (isStale(report, monotonicNow, staleAfterMs)) continue;
    const prefixes = acknowledgedAnnouncing(report);
    if (prefixes.length) result.set(node, new Set(prefixes));
  }
  return result;
}

export function findSite(inventory: Inventory, name: string): SiteConfig | undefined {
  return inventory.sites.find((site) => site.name === name);
}

/** Every prefix any node reported, sorted: the prefixes the floors are counted for. */
export function knownPrefixes(reports: ReadonlyMap<string, NodeReport>): string[] {
  const all = new Set<string>();
  for (const report of reports.values()) for (const p of report.status.prefixes) all.add(p.prefix);
  return [...all].sort();
}

/** Prefixes the nodes of a site reported (any state). */
export function sitePrefixes(site: SiteConfig, reports: ReadonlyMap<string, NodeReport>): string[] {
  const all = new Set<string>();
  for (const node of site.nodes) for (const p of reports.get(node)?.status.prefixes ?? []) all.add(p.prefix);
  return [...all].sort();
}
