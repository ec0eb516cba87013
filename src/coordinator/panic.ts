/**
 * Panic mode as pure functions (docs/panic-mode.md). From the agents' reports: which sites are
 * *fully healthy* (a fresh node whose checks all pass, counting a check that panic lets a node
 * ignore as failing, so panic cannot end itself), the share of reporting sites that are, and
 * the decision with hysteresis: engage below `threshold`, disengage only at `threshold + margin`
 * or above and after `minDuration`, decide nothing while too few sites report to tell a local
 * fault from a fleet-wide one.
 */
import type { AgentStatus, CheckStatus } from '../wire/agent-status.js';
import type { PanicStatus } from '../wire/coordinator-api.js';
import type { PanicConfig } from './config-schema.js';
import type { Inventory } from './fleet.js';
import type { NodeReport } from './model.js';

/** A check that does not pass: down, or passing only because panic ignores it. */
export function checkFails(check: CheckStatus): boolean {
  return check.status === 'down' || check.panicIgnored === true;
}

/**
 * The checks of a report that fail (raw: before panic), or null when the report cannot tell: no
 * checks, or a check not probed yet (an agent just started). Such a node counts like a stale one,
 * so a fleet starting up or reconnecting does not look like a fleet-wide fault.
 */
export function failingChecks(status: AgentStatus): string[] | null {
  if (!status.checks.length || status.checks.some((c) => c.status === 'pending')) return null;
  return status.checks.filter(checkFails).map((c) => c.name);
}

/** The checks a node reports ignoring because of panic. */
export function panicIgnoredChecks(status: AgentStatus): string[] {
  return status.checks.filter((c) => c.panicIgnored === true).map((c) => c.name);
}

export interface SiteHealth {
  site: string;
  /** At least one node of the site has a fresh report with every check probed. */
  reporting: boolean;
  /** Some fresh node of the site passes every check. */
  healthy: boolean;
  /** When reporting and not healthy: the checks failing on its fresh nodes (sorted, unique). */
  failing: string[];
}

export function siteHealth(
  inventory: Inventory,
  reports: ReadonlyMap<string, NodeReport>,
  isStale: (node: string) => boolean,
): SiteHealth[] {
  return inventory.sites.map((site) => {
    const failing: string[][] = [];
    for (const node of site.nodes) {
      const report = reports.get(node);
      const checks = report && !isStale(node) ? failingChecks(report.status) : null;
      if (checks) failing.push(checks);
    }
    const healthy = failing.some((checks) => checks.length === 0);
    return {
      site: site.name,
      reporting: failing.length > 0,
      healthy,
      failing: healthy ? [] : [...new Set(failing.flat())].sort(),
    };
  });
}

export interface PanicState {
  active: boolean;
  since: number | null;
  reason: string | null;
}

export const NO_PANIC: PanicState = { active: false, since: null, reason: null };

export interface PanicDecision {
  state: PanicState;
  transition: 'engaged' | 'disengaged' | null;
  /** One line on why (the shares), for the log and the audit entry. */
  why: string;
}

function percent(share: number): string {
  return `${Math.round(share * 1000) / 10}%`;
}

/** "tls-cert on 3 sites, proxy on 1 site": the checks that fail, most widespread first. */
export function describeFailing(sites: readonly SiteHealth[]): string {
  const counts = new Map<string, number>();
  for (const site of sites)
    if (site.reporting && !site.healthy)
      for (const c of site.failing) counts.set(c, (counts.get(c) ?? 0) + 1);
  const ranked = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const shown = ranked.slice(0, 5).map(([check, n]) => `${check} on ${n} site${n === 1 ? '' : 's'}`);
  if (ranked.length > 5) shown.push(`${ranked.length - 5} more`);
  return shown.join(', ') || 'none';
}

/**
 * The next panic state. Pure: `now` is the caller's wall clock (it dates `since`); `heldForMs`,
 * how long panic has been held on a monotonic clock, decides the minimum duration (without it,
 * `now - since`). Share = healthy / reporting sites
 * (stale sites, and sites whose agents have not probed every check yet, are unknown and left
 * out of both: losing sight of the fleet, or starting it, is not a health fault). Nothing is decided while fewer than `minReportingShare` of the inventory report.
 */
export function decidePanic(
  config: Pick<PanicConfig, 'enabled' | 'threshold' | 'margin' | 'minReportingShare' | 'minDuration'>,
  current: PanicState,
  sites: readonly SiteHealth[],
  now: number,
  heldForMs?: number,
): PanicDecision {
  const reporting = sites.filter((s) => s.reporting).length;
  const healthy = sites.filter((s) => s.reporting && s.healthy).length;
  const releaseAt = Math.min(1, config.threshold + config.margin);
  if (!config.enabled) {
    if (!current.active) return { state: current, transition: null, why: 'panic mode is disabled' };
    return {
      state: NO_PANIC,
      transition: 'disengaged',
      why: 'panic mode is disabled in the configuration',
    };
  }
  const needed = Math.max(1, Math.ceil(sites.length * config.minReportingShare));
  if (reporting < needed)
    return {
      state: current,
      transition: null,
      why: `only ${reporting} of ${sites.length} sites report (at least ${needed} needed to decide); panic stays ${current.active ? 'engaged' : 'off'}`,
    };
  const share = healthy / reporting;
  const shares = `${healthy} of ${reporting} reporting sites pass every check (${percent(share)})`;
  if (!current.active) {
    if (share >= config.threshold)
      return { state: current, transition: null, why: `${shares}; threshold ${percent(config.threshold)}` };
    const why =
      `${shares}, below the panic threshold of ${percent(config.threshold)}; failing: ${describeFailing(sites)}. ` +
      'Fail-open checks are ignored on nodes whose proxy still answers.';
    return { state: { active: true, since: now, reason: why }, transition: 'engaged', why };
  }
  if (share < releaseAt)
    return {
      state: current,
      transition: null,
      why: `${shares}; panic stays until ${percent(releaseAt)}`,
    };
  const heldFor = heldForMs ?? now - (current.since ?? now);
  if (heldFor < config.minDuration)
    return {
      state: current,
      transition: null,
      why: `${shares}; panic stays at least ${config.minDuration} ms (engaged ${heldFor} ms ago)`,
    };
  return {
    state: NO_PANIC,
    transition: 'disengaged',
    why: `${shares}, at or above ${percent(releaseAt)} (threshold ${percent(config.threshold)} + margin): failing checks withdraw again`,
  };
}

/** The `panic` object of the status document. */
export function panicStatus(
  config: Pick<PanicConfig, 'enabled' | 'threshold' | 'margin'>,
  state: PanicState,
  sites: readonly SiteHealth[],
  ignoring: PanicStatus['ignoring'],
): PanicStatus {
  const reporting = sites.filter((s) => s.reporting).length;
  const healthy = sites.filter((s) => s.reporting && s.healthy).length;
  return {
    enabled: config.enabled,
    active: state.active,
    since: state.since,
    reason: state.reason,
    threshold: config.threshold,
    releaseAt: Math.min(1, config.threshold + config.margin),
    healthySites: healthy,
    reportingSites: reporting,
    share: reporting ? healthy / reporting : null,
    failing: sites.filter((s) => s.reporting && !s.healthy).map((s) => ({ site: s.site, checks: s.failing })),
    ignoring,
  };
}
