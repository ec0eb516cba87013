/**
 * What the dashboard calls each site and node: announcing, draining, drained, held down, down or
 * stale,
 * derived from the coordinator's fleet document. A node that is not heard from is stale, never
 * "announcing": the page must not show old data as current. Graceful (de-preferred) routes still
 * carry traffic, so a draining site still counts as announcing, as the coordinator counts it.
 * A node held down by flap damping whose checks pass is "held down", not "down": it is healthy
 * and returns by itself when the hold-down ends.
 */
import type { NodeStatus, SiteStatus } from '../../wire/coordinator-api.js';
import { preDrainActive, preDrainBadge } from '../../wire/pre-drain-phrase.js';

export const DISPLAY_STATES = ['announcing', 'draining', 'drained', 'held-down', 'down', 'stale'] as const;
export type DisplayState = (typeof DISPLAY_STATES)[number];

/** Human labels, used beside every colour and icon. */
export const STATE_LABELS: Record<DisplayState, string> = {
  announcing: 'Announcing',
  draining: 'Draining',
  drained: 'Drained',
  'held-down': 'Held down',
  down: 'Down',
  stale: 'Stale',
};

/** Whether a node or site in this state is carrying anycast traffic. */
export function isAnnouncingState(state: DisplayState): boolean {
  return state === 'announcing' || state === 'draining';
}

export interface Freshness {
  /** The coordinator's clock now (browser clock corrected by the server's offset). */
  now: number;
  /** Age after which a report no longer counts; null = trust the coordinator's `stale` flag only. */
  staleAfterMs: number | null;
}

export function isNodeStale(node: NodeStatus, freshness: Freshness): boolean {
  if (node.stale || node.lastSeenAt === null) return true;
  return freshness.staleAfterMs !== null && freshness.now - node.lastSeenAt > freshness.staleAfterMs;
}

export interface NodeView {
  state: DisplayState;
  /** Short words on why: "health: DOWN", "drained by d-12", "no report for 40 s". */
  detail: string;
  announcingPrefixes: string[];
}

export function classifyNode(node: NodeStatus, freshness: Freshness): NodeView {
  if (isNodeStale(node, freshness)) {
    const detail = node.lastSeenAt === null ? 'never reported' : 'no fresh report';
    return { state: 'stale', detail, announcingPrefixes: [] };
  }
  const normal = node.prefixes.filter((p) => p.acknowledged === 'announce').map((p) => p.prefix);
  const graceful = node.prefixes.filter((p) => p.acknowledged === 'graceful').map((p) => p.prefix);
  const announcing = [...normal, ...graceful];
  const drainIds = [...new Set([...node.drains, ...node.prefixes.flatMap((p) => p.drainedBy)])];
  const drainedBy = drainIds.length ? `drained by ${drainIds.join(', ')}` : '';
  // A pre-drain (docs/turn.md) steers and waits for live sessions while the route is still announced.
  if (preDrainActive(node.preDrain))
    return {
      state: 'draining',
      detail: `pre-drain ${preDrainBadge(node.preDrain!)}${drainedBy ? `; ${drainedBy}` : ''}`,
      announcingPrefixes: announcing,
    };
  if (graceful.length || node.state === 'DRAINING')
    return { state: 'draining', detail: drainedBy || 'graceful shutdown', announcingPrefixes: announcing };
  if (node.state === 'DRAINED')
    return { state: 'drained', detail: drainedBy || 'drained', announcingPrefixes: [] };
  if (normal.length) {
    const withdrawn = node.prefixes.filter((p) => p.acknowledged !== 'announce').map((p) => p.prefix);
    const detail = withdrawn.length ? `not announcing ${withdrawn.join(', ')}` : 'healthy';
    return { state: 'announcing', detail, announcingPrefixes: announcing };
  }
  if (drainIds.length) return { state: 'drained', detail: drainedBy, announcingPrefixes: [] };
  // Flap damping keeps a node whose checks pass withdrawn: held down, not down.
  if (node.holdDown && node.healthy !== false)
    return {
      state: 'held-down',
      // No countdown here (the node card has it): a row's words change only when its state does.
      detail: `checks pass; held down for flapping (${node.holdDown.flaps} flap${node.holdDown.flaps === 1 ? '' : 's'})`,
      announcingPrefixes: [],
    };
  const pending = node.prefixes.some((p) => p.desired !== p.acknowledged);
  const health = node.state ? `health: ${node.state}` : 'no state';
  return {
    state: 'down',
    detail: pending ? `${health}; waiting for ExaBGP` : health,
    announcingPrefixes: [],
  };
}

export interface SiteView {
  name: string;
  region: string;
  state: DisplayState;
  /** One line a person reads first: "3 of 4 nodes announcing", "drained by alice: kernel upgrade". */
  summary: string;
  nodes: Map<string, NodeView>;
  announcingNodes: number;
  /** Prefixes at least one fresh node of the site announces. */
  announcingPrefixes: string[];
  /** Some nodes are not in the site's state (partly drained, one node down...). */
  degraded: boolean;
  /** Most recent report of any node, null when none ever reported. */
  lastSeenAt: number | null;
}

function siteStateOf(states: DisplayState[]): DisplayState {
  if (states.length === 0 || states.every((s) => s === 'stale')) return 'stale';
  if (states.includes('draining')) return 'draining';
  if (states.includes('announcing')) return 'announcing';
  if (states.includes('drained')) return 'drained';
  if (states.includes('held-down')) return 'held-down';
  return 'down';
}

function holdSummary(site: SiteStatus): string {
  const first = site.holds[0];
  if (!first) return '';
  const more = site.holds.length > 1 ? ` (+${site.holds.length - 1} more)` : '';
  return `${first.owner}: ${first.reason}${more}`;
}

export function classifySite(site: SiteStatus, freshness: Freshness): SiteView {
  const nodes = new Map<string, NodeView>();
  for (const node of site.nodes) nodes.set(node.name, classifyNode(node, freshness));
  const views = [...nodes.values()];
  const state = siteStateOf(views.map((v) => v.state));
  const announcingNodes = views.filter((v) => isAnnouncingState(v.state)).length;
  const announcingPrefixes = [...new Set(views.flatMap((v) => v.announcingPrefixes))].sort();
  const degraded = views.some((v) => v.state !== state);
  const seen = site.nodes.map((n) => n.lastSeenAt).filter((t): t is number => t !== null);
  const total = views.length;
  let summary: string;
  if (state === 'draining' || state === 'drained')
    summary = holdSummary(site) || views.find((v) => v.state === state)?.detail || STATE_LABELS[state];
  else if (state === 'stale')
    summary = total
      ? `no fresh report from ${total === 1 ? 'its node' : `any of ${total} nodes`}`
      : 'no nodes';
  else if (state === 'down') summary = views.find((v) => v.state === 'down')?.detail ?? 'withdrawn';
  else if (state === 'held-down')
    summary = views.find((v) => v.state === 'held-down')?.detail ?? STATE_LABELS[state];
  else summary = `${announcingNodes} of ${total} nodes announcing`;
  if (state === 'announcing' && site.holds.length) summary += `; held: ${holdSummary(site)}`;
  return {
    name: site.name,
    region: site.region,
    state,
    summary,
    nodes,
    announcingNodes,
    announcingPrefixes,
    degraded,
    lastSeenAt: seen.length ? Math.max(...seen) : null,
  };
}
