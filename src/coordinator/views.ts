/**
 * The documents the API returns, built as pure functions of the records and the agents'
 * reports: a drain with its live completeness and release progress, a window with its next
 * start, and the fleet status (sites, regions, nodes, holds).
 */
import { certNotAfterUnixSeconds, type AgentStatus } from '../wire/agent-status.js';
import type { DrainView, FleetStatus, NodeStatus, SiteStatus, WindowView } from '../wire/coordinator-api.js';
import type { CoordinatorConfig } from './config-schema.js';
import { acknowledgedAnnouncing, isStale, type Inventory } from './fleet.js';
import { holdsOnNode, holdsOnSite, nodesOfTarget } from './holds.js';
import type { DrainRecord, NodeReport, WindowRecord } from './model.js';
import type { NodeHealth } from './replicas/health-board.js';
import { lastHeardAt, laterOf } from './replicas/heard-times.js';
import { panicIgnoredChecks } from './panic.js';
import { drainComplete, releaseComplete, releaseNodeProgress } from './progress.js';

export interface ViewContext {
  inventory: Inventory;
  reports: ReadonlyMap<string, NodeReport>;
  /** Every drain the coordinator tracks (active ones matter for stacked holds). */
  drains: readonly DrainRecord[];
  observerConfigured: boolean;
  staleAfterMs: number;
  /** Wall clock (unix ms), for the times shown. */
  now: number;
  /** The monotonic clock (fleet.ts), for staleness. */
  monotonicNow: number;
}

export function drainView(record: DrainRecord, ctx: ViewContext): DrainView {
  let release: DrainView['release'] = null;
  if (record.status === 'released') {
    const nodes = nodesOfTarget(ctx.inventory, record.target).map((node) =>
      releaseNodeProgress({
        drainId: record.id,
        target: record.target,
        node,
        report: ctx.reports.get(node),
        stale: isStale(ctx.reports.get(node), ctx.monotonicNow, ctx.staleAfterMs),
        otherHolds: holdsOnNode(ctx.inventory, ctx.drains, node)
          .filter((d) => d.id !== record.id)
          .map((d) => `${d.id} (${d.owner})`),
      }),
    );
    release = { complete: releaseComplete(nodes), nodes };
  }
  return {
    id: record.id,
    target: record.target,
    reason: record.reason,
    ticket: record.ticket,
    owner: record.owner,
    createdAt: record.createdAt,
    deadline: record.deadline,
    holdMs: record.holdMs,
    overrides: record.overrides,
    windowId: record.windowId,
    status: record.status,
    phase: record.phase,
    phaseChangedAt: record.phaseChangedAt,
    blocked: record.blocked,
    overdue: record.overdue,
    complete: record.status === 'active' && drainComplete(record.nodes, ctx.observerConfigured),
    completedAt: record.completedAt,
    nodes: record.nodes,
    releasedAt: record.releasedAt,
    releasedBy: record.releasedBy,
    releaseReason: record.releaseReason,
    release,
  };
}

export function windowView(record: WindowRecord, nextStartAt: number | null): WindowView {
  return {
    id: record.id,
    target: record.target,
    cron: record.cron,
    durationMs: record.durationMs,
    timezone: record.timezone,
    reason: record.reason,
    ticket: record.ticket,
    holdMs: record.holdMs,
    autoRelease: record.autoRelease,
    owner: record.owner,
    createdAt: record.createdAt,
    nextStartAt,
    occurrence: record.occurrence ? { ...record.occurrence } : null,
  };
}

export interface StatusContext extends ViewContext {
  policy: CoordinatorConfig['policy'];
  connected: (node: string) => boolean;
  revisionOf: (node: string) => number | null;
  /**
   * Replicas: what another replica shares on the health board about a node whose agent is
   * connected there (absent: none, or the engine has one coordinator).
   */
  servedElsewhere?: (node: string) => NodeHealth | undefined;
  /**
   * When such a node was last heard (replicas/heard-times.ts `lastHeardAt`); absent: the time its
   * board entry carries.
   */
  lastHeardElsewhere?: (health: NodeHealth) => number | null;
}

/** Each TLS-carrying check's certificate notAfter (old agents' field included), for `herald status`. */
function nodeCertificates(status: AgentStatus): NonNullable<NodeStatus['certificates']> {
  return status.checks.flatMap((check) => {
    const notAfterUnixSeconds = certNotAfterUnixSeconds(check);
    return notAfterUnixSeconds === undefined
      ? []
      : [{ check: check.name, status: check.status, notAfterUnixSeconds }];
  });
}

/**
 * A node this replica does not hear, as the replica its agent is connected to shares it: health,
 * routes, drains held and pre-drain; check details and certificate dates stay on that replica.
 * Its staleness is current (the entry lives under that replica's lease and says when the agent
 * went stale); its last-seen time is the agent's last report as shared, never the time of this
 * read: at most one heard period (replicas/heard-times.ts) behind the truth, never ahead of it.
 */
function remoteNodeStatus(node: string, site: string, health: NodeHealth, ctx: StatusContext): NodeStatus {
  const drainState = health.stale ? undefined : health.drainState;
  return {
    name: node,
    site,
    connected: false,
    servedBy: health.replica,
    stale: health.stale,
    lastSeenAt: remoteLastSeen(health, ctx),
    state: (health.state as NodeStatus['state']) ?? null,
    healthy: health.healthy,
    announcing: health.stale ? [] : health.announcing,
    prefixes: drainState?.prefixes ?? [],
    drains: drainState?.drains.map((d) => d.id) ?? [],
    desiredRevision: ctx.revisionOf(node),
    ...(drainState?.preDrain ? { preDrain: drainState.preDrain } : {}),
  };
}

/**
 * When the replica serving a node last heard its agent, as shared (never later than the truth).
 * An entry from a replica of an older version carries no time: during a rolling upgrade its fresh
 * nodes show the time of this read, as before, rather than "never reported" (the page would show
 * them stale); its staleness is still current, the entry lives under that replica's lease.
 */
function remoteLastSeen(health: NodeHealth, ctx: StatusContext): number | null {
  const heard = ctx.lastHeardElsewhere?.(health) ?? lastHeardAt(health, undefined);
  return heard ?? (health.stale ? null : ctx.now);
}

function nodeStatus(node: string, site: string, ctx: StatusContext): NodeStatus {
  const report = ctx.reports.get(node);
  const stale = isStale(report, ctx.monotonicNow, ctx.staleAfterMs);
  const remote = !report || stale ? ctx.servedElsewhere?.(node) : undefined;
  if (remote && !remote.stale) return remoteNodeStatus(node, site, remote, ctx);
  const ignored = report && !stale ? panicIgnoredChecks(report.status) : [];
  const certificates = report ? nodeCertificates(report.status) : [];
  return {
    name: node,
    site,
    connected: ctx.connected(node),
    stale,
    // A node gone stale on the replica serving it: its last report there, when later than any here.
    lastSeenAt: laterOf(report?.receivedAt ?? null, remote ? remoteLastSeen(remote, ctx) : null),
    state: report?.status.state ?? null,
    healthy: report?.status.healthy ?? null,
    announcing: stale ? [] : acknowledgedAnnouncing(report),
    prefixes: report?.status.prefixes ?? [],
    drains: report?.status.drains.map((d) => d.id) ?? [],
    desiredRevision: ctx.revisionOf(node),
    ...(ignored.length ? { panicIgnored: ignored } : {}),
    ...(report && !stale && report.status.holdDown.active
      ? {
          holdDown: {
            until: report.receivedAt + report.status.holdDown.remainingMs,
            flaps: report.status.holdDown.flaps,
          },
        }
      : {}),
    ...(certificates.length ? { certificates } : {}),
    ...(report && !stale && report.status.preDrain ? { preDrain: report.status.preDrain } : {}),
  };
}

export function fleetStatus(ctx: StatusContext): FleetStatus {
  const sites: SiteStatus[] = ctx.inventory.sites.map((site) => {
    const nodes = site.nodes.map((node) => nodeStatus(node, site.name, ctx));
    const announcingPrefixes = [...new Set(nodes.flatMap((n) => n.announcing))].sort();
    return {
      name: site.name,
      region: site.region,
      location: site.location,
      announcing: announcingPrefixes.length > 0,
      announcingPrefixes,
      holds: holdsOnSite(ctx.drains, site.name).map((d) => ({
        drainId: d.id,
        owner: d.owner,
        reason: d.reason,
        node: d.target.node ?? null,
        prefix: d.target.prefix ?? null,
        complete: drainComplete(d.nodes, ctx.observerConfigured),
        overdue: d.overdue,
      })),
      nodes,
    };
  });
  const regionNames = [...new Set(ctx.inventory.sites.map((s) => s.region))].sort();
  return {
    generatedAt: ctx.now,
    announcingSites: sites.filter((s) => s.announcing).length,
    policy: {
      minAnnouncingSites: ctx.policy.minAnnouncingSites,
      regionFloor: ctx.policy.regionFloor,
      maxConcurrentDrains: ctx.policy.maxConcurrentDrains,
      maxConcurrentDrainsPerRegion: ctx.policy.maxConcurrentDrainsPerRegion,
    },
    regions: regionNames.map((name) => {
      const inRegion = sites.filter((s) => s.region === name);
      return {
        name,
        sites: inRegion.map((s) => s.name),
        announcingSites: inRegion.filter((s) => s.announcing).length,
      };
    }),
    sites,
    routeObserver: ctx.observerConfigured,
  };
}
