/**
 * Hold stacking, as pure functions. Every active drain is one hold with an owner; what a node
 * is asked to do is the union of the holds that cover it, so a site returns only when every
 * hold on it is released, and releasing one never clears another.
 */
import type { AgentDesired } from '../wire/agent-status.js';
import type { DrainTarget } from '../wire/coordinator-api.js';
import { findSite, type Inventory } from './fleet.js';
import type { DrainRecord } from './model.js';

/** The nodes a target applies to (the whole site, or the one node named). */
export function nodesOfTarget(inventory: Inventory, target: DrainTarget): string[] {
  const site = findSite(inventory, target.site);
  if (!site) return [];
  if (target.node) return site.nodes.includes(target.node) ? [target.node] : [];
  return [...site.nodes];
}

/** Whether a target covers `prefix` on `node` (a target without prefix covers every prefix). */
export function targetCovers(
  inventory: Inventory,
  target: DrainTarget,
  node: string,
  prefix: string,
): boolean {
  if (target.prefix && target.prefix !== prefix) return false;
  return nodesOfTarget(inventory, target).includes(node);
}

/** Whether a target covers any prefix of `node`. */
export function targetCoversNode(inventory: Inventory, target: DrainTarget, node: string): boolean {
  return nodesOfTarget(inventory, target).includes(node);
}

export function activeDrains(drains: readonly DrainRecord[]): DrainRecord[] {
  return drains.filter((d) => d.status === 'active');
}

/** The active holds that apply to a node, oldest first. */
export function holdsOnNode(
  inventory: Inventory,
  drains: readonly DrainRecord[],
  node: string,
): DrainRecord[] {
  return activeDrains(drains)
    .filter((d) => targetCoversNode(inventory, d.target, node))
    .sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
}

/** The active holds on any part of a site, oldest first. */
export function holdsOnSite(drains: readonly DrainRecord[], site: string): DrainRecord[] {
  return activeDrains(drains)
    .filter((d) => d.target.site === site)
    .sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
}

/**
 * The drains pushed to one agent. `phase: 'graceful'` asks the agent to keep GRACEFUL_SHUTDOWN
 * and not withdraw yet; the coordinator moves it to 'withdraw' once the policy allows the step.
 */
export function desiredDrainsForNode(
  inventory: Inventory,
  drains: readonly DrainRecord[],
  node: string,
): AgentDesired['drains'] {
  return holdsOnNode(inventory, drains, node).map((d) => ({
    id: d.id,
    reason: d.reason,
    owner: d.owner,
    ...(d.ticket ? { ticket: d.ticket } : {}),
    ...(d.target.prefix ? { prefixes: [d.target.prefix] } : {}),
    ...(d.holdMs !== null ? { holdMs: d.holdMs } : {}),
    phase: d.phase,
  }));
}

/**
 * desiredDrainsForNode for every node at once, in one pass over the active drains (the
 * coordinator runs this every tick for the whole fleet). Nodes without holds get [].
 */
export function desiredDrainsByNode(
  inventory: Inventory,
  drains: readonly DrainRecord[],
): Map<string, AgentDesired['drains']> {
  const byNode = new Map<string, AgentDesired['drains']>();
  for (const site of inventory.sites) for (const node of site.nodes) byNode.set(node, []);
  const sorted = activeDrains(drains).sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  for (const drain of sorted)
    for (const node of nodesOfTarget(inventory, drain.target))
      byNode.get(node)?.push(...desiredDrainsForNode(inventory, [drain], node));
  return byNode;
}

/** Which of the caller's holds a release by target means: those of `owner` with exactly this target. */
export function holdsToRelease(
  drains: readonly DrainRecord[],
  owner: string,
  target: DrainTarget,
): DrainRecord[] {
  return activeDrains(drains).filter(
    (d) =>
      d.owner === owner &&
      d.target.site === target.site &&
      (d.target.node ?? null) === (target.node ?? null) &&
      (d.target.prefix ?? null) === (target.prefix ?? null),
  );
}
