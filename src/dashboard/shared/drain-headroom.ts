/**
 * "Is it safe to drain another site?" as the fleet summary answers it: the announcing count
 * against the policy floor (per prefix), and drains in progress against the concurrency limits.
 * Only a hint for the header: the coordinator's dry run (shown in the drain dialog) is the
 * authority, and it also knows the region floor for the one site you pick.
 */
import type { FleetStatus } from '../../wire/coordinator-api.js';
import { isAnnouncingState, type SiteView } from './site-state.js';
import { plural } from './format.js';

export interface PrefixCount {
  prefix: string;
  sites: number;
}

export interface Headroom {
  /** Sites announcing at least one prefix (draining sites included: graceful routes still carry traffic). */
  announcingSites: number;
  totalSites: number;
  floor: number;
  /** Per prefix, the sites announcing it; the floor applies to each. */
  prefixes: PrefixCount[];
  sitesUnderDrain: string[];
  maxConcurrentDrains: number;
  /** Regions whose only announcing site is one more drain away from going dark. */
  regionsAtLastSite: string[];
  safe: boolean;
  /** Why not (empty when safe), each a full sentence. */
  blockers: string[];
}

export function computeHeadroom(fleet: FleetStatus, views: ReadonlyMap<string, SiteView>): Headroom {
  const sites = fleet.sites;
  const announcing = sites.filter((s) => {
    const view = views.get(s.name);
    return view ? isAnnouncingState(view.state) : false;
  });
  const prefixSites = new Map<string, number>();
  for (const site of sites)
    for (const node of site.nodes) for (const p of node.prefixes) prefixSites.set(p.prefix, 0);
  for (const site of announcing)
    for (const prefix of views.get(site.name)?.announcingPrefixes ?? [])
      prefixSites.set(prefix, (prefixSites.get(prefix) ?? 0) + 1);
  const prefixes = [...prefixSites]
    .map(([prefix, count]) => ({ prefix, sites: count }))
    .sort((a, b) => a.prefix.localeCompare(b.prefix));
  const sitesUnderDrain = sites.filter((s) => s.holds.length > 0).map((s) => s.name);
  const floor = fleet.policy.minAnnouncingSites;
  const blockers: string[] = [];
  const lowest = prefixes.length ? Math.min(...prefixes.map((p) => p.sites)) : announcing.length;
  if (lowest - 1 < floor) {
    const weakest = prefixes.filter((p) => p.sites === lowest).map((p) => p.prefix);
    blockers.push(
      `Draining one more site would leave ${lowest - 1} announcing${weakest.length ? ` ${weakest.join(', ')}` : ''}, below the floor of ${floor}.`,
    );
  }
  if (sitesUnderDrain.length >= fleet.policy.maxConcurrentDrains)
    blockers.push(
      `${plural(sitesUnderDrain.length, 'site')} already under drain (${sitesUnderDrain.join(', ')}); the limit is ${fleet.policy.maxConcurrentDrains}.`,
    );
  const announcingNames = new Set(announcing.map((s) => s.name));
  const regionsAtLastSite = fleet.policy.regionFloor
    ? fleet.regions
        .filter((r) => r.sites.filter((name) => announcingNames.has(name)).length === 1)
        .map((r) => r.name)
    : [];
  return {
    announcingSites: announcing.length,
    totalSites: sites.length,
    floor,
    prefixes,
    sitesUnderDrain,
    maxConcurrentDrains: fleet.policy.maxConcurrentDrains,
    regionsAtLastSite,
    safe: blockers.length === 0,
    blockers,
  };
}
