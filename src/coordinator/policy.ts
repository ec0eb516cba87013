/**
 * The safety policy as one pure function: given the fleet as the agents report it, the drains
 * already in force and a proposed drain, which rules would it break? Evaluated before a drain
 * starts and again before its withdraw step. Health withdrawals count toward the floors (a node
 * announces only what ExaBGP acknowledged), and a node with no fresh report is assumed to be
 * announcing whatever the proposed drain would take away, so not knowing never loosens a floor.
 */
import type { PolicyConfig } from './config-schema.js';
import type {
  DrainTarget,
  Override,
  PolicyEvaluation,
  PolicyRule,
  Violation,
} from '../wire/coordinator-api.js';
import { findSite, type Inventory } from './fleet.js';
import { nodesOfTarget, targetCovers } from './holds.js';

export interface HoldRef {
  id: string;
  owner: string;
  target: DrainTarget;
}

export interface PolicyInput {
  policy: Pick<
    PolicyConfig,
    'minAnnouncingSites' | 'regionFloor' | 'maxConcurrentDrains' | 'maxConcurrentDrainsPerRegion'
  >;
  inventory: Inventory;
  /** node → prefixes it announces now (fresh reports only). */
  announcing: ReadonlyMap<string, ReadonlySet<string>>;
  /** Nodes with a fresh report; the others are unknown. */
  reporting: ReadonlySet<string>;
  /** Every prefix the fleet is known to serve. */
  prefixes: readonly string[];
  /** Active drains other than the proposed one. */
  others: readonly HoldRef[];
  proposed: DrainTarget;
  overrides: readonly Override[];
  /** 'start': every rule. 'withdraw': the floors only (concurrency was settled at the start). */
  step: 'start' | 'withdraw';
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function list(names: Iterable<string>): string {
  const all = [...names].sort();
  return all.length ? all.join(', ') : 'none';
}

/**
 * Stands for "whatever the fleet serves" when no agent has reported a prefix yet: a node
 * announces it if it announces anything. Knowing nothing must not make a drain look harmless.
 */
export const ANY_PREFIX = '(any prefix)';

function covers(input: PolicyInput, target: DrainTarget, node: string, prefix: string): boolean {
  if (prefix === ANY_PREFIX) return !target.prefix && nodesOfTarget(input.inventory, target).includes(node);
  return targetCovers(input.inventory, target, node, prefix);
}

function announces(input: PolicyInput, node: string, prefix: string): boolean {
  const set = input.announcing.get(node);
  if (!set) return false;
  return prefix === ANY_PREFIX ? set.size > 0 : set.has(prefix);
}

/** The sites announcing `prefix`, with and without the proposed drain. */
function sitesAnnouncing(input: PolicyInput, prefix: string): { before: Set<string>; after: Set<string> } {
  const before = new Set<string>();
  const after = new Set<string>();
  for (const site of input.inventory.sites) {
    for (const node of site.nodes) {
      if (input.others.some((d) => covers(input, d.target, node, prefix))) continue;
      const announcing = announces(input, node, prefix);
      const coveredByProposed = covers(input, input.proposed, node, prefix);
      // A node of the target that has not reported might be announcing: assume it is.
      const assumed = coveredByProposed && !input.reporting.has(node);
      if (announcing || assumed) before.add(site.name);
      if (announcing && !coveredByProposed) after.add(site.name);
    }
  }
  return { before, after };
}

/** Why a site is not announcing, for refusal messages. */
function whyNotAnnouncing(input: PolicyInput, siteName: string, prefix: string): string {
  const site = findSite(input.inventory, siteName);
  if (!site) return 'unknown';
  const hold = input.others.find((d) => site.nodes.some((n) => covers(input, d.target, n, prefix)));
  if (hold) return `drained by ${hold.id} (${hold.owner})`;
  if (site.nodes.every((n) => !input.reporting.has(n))) return 'no fresh report';
  return 'withdrawn by health';
}

function floorViolations(input: PolicyInput): Violation[] {
  const { policy, inventory, proposed } = input;
  const site = findSite(inventory, proposed.site);
  if (!site) return [];
  const regionSites = inventory.sites.filter((s) => s.region === site.region).map((s) => s.name);
  const partial = nodesOfTarget(inventory, proposed).length < site.nodes.length;
  const prefixes = proposed.prefix
    ? [proposed.prefix]
    : input.prefixes.length
      ? input.prefixes
      : [ANY_PREFIX];
  const floor: string[] = [];
  const region: string[] = [];
  for (const prefix of prefixes) {
    const { before, after } = sitesAnnouncing(input, prefix);
    if (after.size >= before.size) continue; // this drain takes no site away for this prefix
    if (after.size < policy.minAnnouncingSites) {
      const down = inventory.sites.map((s) => s.name).filter((s) => !after.has(s) && s !== site.name);
      floor.push(
        `draining ${proposed.site} would leave ${plural(after.size, 'site')} announcing ${prefix} ` +
          `(${list(after)}), below the floor of ${policy.minAnnouncingSites}` +
          (down.length
            ? `; not announcing: ${down.map((s) => `${s} (${whyNotAnnouncing(input, s, prefix)})`).join(', ')}`
            : ''),
      );
    }
    if (policy.regionFloor) {
      const beforeRegion = regionSites.filter((s) => before.has(s));
      const afterRegion = regionSites.filter((s) => after.has(s));
      if (beforeRegion.length > 0 && afterRegion.length === 0)
        region.push(`${proposed.site} is the last site of region ${site.region} announcing ${prefix}`);
    }
  }
  const violations: Violation[] = [];
  if (floor.length) {
    const couldReturn = inventory.sites.length - 1 + (partial ? 1 : 0);
    const retryable = couldReturn >= policy.minAnnouncingSites;
    violations.push({
      rule: 'minAnnouncingSites',
      message:
        floor.join('; ') +
        (retryable
          ? '. Waiting could help: sites withdrawn by health or other drains may return.'
          : `. Waiting cannot help: the inventory has only ${plural(inventory.sites.length, 'site')}.`),
      retryable,
    });
  }
  if (region.length) {
    const retryable = regionSites.length > 1 || partial;
    violations.push({
      rule: 'regionFloor',
      message:
        region.join('; ') +
        (retryable
          ? `. Waiting could help: another site of ${site.region} may return.`
          : `. Waiting cannot help: ${proposed.site} is the only site of region ${site.region}.`),
      retryable,
    });
  }
  return violations;
}

function concurrencyViolations(input: PolicyInput): Violation[] {
  const { policy, inventory, proposed, others } = input;
  const site = findSite(inventory, proposed.site);
  if (!site) return [];
  const drainedSites = new Map<string, HoldRef[]>();
  for (const d of others) drainedSites.set(d.target.site, [...(drainedSites.get(d.target.site) ?? []), d]);
  if (drainedSites.has(proposed.site)) return []; // another hold on a site already under drain
  const describe = (sites: string[]) =>
    sites
      .map(
        (s) =>
          `${s} (${drainedSites
            .get(s)!
            .map((d) => `${d.id} by ${d.owner}`)
            .join(', ')})`,
      )
      .join(', ');
  const violations: Violation[] = [];
  if (drainedSites.size >= policy.maxConcurrentDrains)
    violations.push({
      rule: 'maxConcurrentDrains',
      message:
        `${plural(drainedSites.size, 'site')} already under drain (${describe([...drainedSites.keys()].sort())}); ` +
        `the limit is ${policy.maxConcurrentDrains}. Waiting could help: retry when one is released.`,
      retryable: true,
    });
  const inRegion = [...drainedSites.keys()]
    .filter((s) => findSite(inventory, s)?.region === site.region)
    .sort();
  if (inRegion.length >= policy.maxConcurrentDrainsPerRegion)
    violations.push({
      rule: 'maxConcurrentDrainsPerRegion',
      message:
        `${plural(inRegion.length, 'site')} of region ${site.region} already under drain (${describe(inRegion)}); ` +
        `the limit is ${policy.maxConcurrentDrainsPerRegion}. Waiting could help: retry when one is released.`,
      retryable: true,
    });
  return violations;
}

/** Evaluates every rule; the drain is allowed only if each violated rule carries an override. */
export function evaluateDrain(input: PolicyInput): PolicyEvaluation {
  const raw = [...floorViolations(input), ...(input.step === 'start' ? concurrencyViolations(input) : [])];
  const overrides = new Map<PolicyRule, string>(input.overrides.map((o) => [o.rule, o.reason]));
  const violations = raw.map((v) =>
    overrides.has(v.rule) ? { ...v, overridden: overrides.get(v.rule)! } : v,
  );
  return { allowed: violations.every((v) => v.overridden !== undefined), violations };
}

/** The violations that still block (not overridden). */
export function blockingViolations(evaluation: PolicyEvaluation): Violation[] {
  return evaluation.violations.filter((v) => v.overridden === undefined);
}
