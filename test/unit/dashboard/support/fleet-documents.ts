/** Small builders of the coordinator's fleet document for the dashboard's pure-function tests. */
import type { Announcement } from '../../../../src/wire/agent-status.js';
import type { FleetStatus, NodeStatus, SiteStatus } from '../../../../src/wire/coordinator-api.js';

export const P1 = '198.51.100.10/32';
export const P2 = '2001:db8:a::10/128';

export function nodeStatus(
  name: string,
  options: {
    ack?: Announcement | 'unknown' | Partial<Record<string, Announcement | 'unknown'>>;
    desired?: Announcement;
    state?: NodeStatus['state'];
    stale?: boolean;
    lastSeenAt?: number | null;
    drains?: string[];
  } = {},
): NodeStatus {
  const ackFor = (prefix: string): Announcement | 'unknown' =>
    typeof options.ack === 'object' ? (options.ack[prefix] ?? 'announce') : (options.ack ?? 'announce');
  const prefixes = [P1, P2].map((prefix) => ({
    prefix,
    state: options.state ?? 'UP',
    desired:
      options.desired ?? (ackFor(prefix) === 'unknown' ? 'announce' : (ackFor(prefix) as Announcement)),
    acknowledged: ackFor(prefix),
    acknowledgedAt: 1000,
    drainedBy: options.drains ?? [],
  }));
  return {
    name,
    site: name.split('-')[0]!,
    connected: true,
    stale: options.stale ?? false,
    lastSeenAt: options.lastSeenAt === undefined ? 100_000 : options.lastSeenAt,
    state: options.state ?? 'UP',
    healthy: options.state === undefined || options.state === 'UP',
    announcing: prefixes
      .filter((p) => p.acknowledged === 'announce' || p.acknowledged === 'graceful')
      .map((p) => p.prefix),
    prefixes,
    drains: options.drains ?? [],
    desiredRevision: 1,
  };
}

export function siteStatus(
  name: string,
  region: string,
  nodes: NodeStatus[],
  holds: SiteStatus['holds'] = [],
): SiteStatus {
  const announcingPrefixes = [...new Set(nodes.filter((n) => !n.stale).flatMap((n) => n.announcing))].sort();
  return {
    name,
    region,
    location: { lat: 51.5, lon: -0.1 },
    announcing: announcingPrefixes.length > 0,
    announcingPrefixes,
    holds,
    nodes,
  };
}

export function hold(
  drainId: string,
  extra: Partial<SiteStatus['holds'][number]> = {},
): SiteStatus['holds'][number] {
  return {
    drainId,
    owner: 'alice',
    reason: 'kernel upgrade',
    node: null,
    prefix: null,
    complete: false,
    overdue: false,
    ...extra,
  };
}

export function fleet(sites: SiteStatus[], policy: Partial<FleetStatus['policy']> = {}): FleetStatus {
  const regions = [...new Set(sites.map((s) => s.region))].sort();
  return {
    generatedAt: 100_000,
    announcingSites: sites.filter((s) => s.announcing).length,
    policy: {
      minAnnouncingSites: 2,
      regionFloor: true,
      maxConcurrentDrains: 1,
      maxConcurrentDrainsPerRegion: 1,
      ...policy,
    },
    regions: regions.map((name) => ({
      name,
      sites: sites.filter((s) => s.region === name).map((s) => s.name),
      announcingSites: sites.filter((s) => s.region === name && s.announcing).length,
    })),
    sites,
    routeObserver: false,
  };
}
