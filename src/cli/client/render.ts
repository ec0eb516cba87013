/**
 * Text the CLI prints, as pure functions of the API's documents: refusals with their rules,
 * drain progress, fleet status and maintenance windows.
 */
import { formatDuration } from '../../wire/duration-text.js';
import { holdDownPhrase } from '../../health/hold-down-phrase.js';
import { certificateExpiry } from '../../wire/certificate-expiry.js';
import { preDrainActive, preDrainPhrase } from '../../wire/pre-drain-phrase.js';
import type {
  DrainCreated,
  DrainTarget,
  DrainView,
  FleetStatus,
  NodeProgress,
  NodeStatus,
  ReleaseNode,
  Violation,
  WindowView,
} from '../../wire/coordinator-api.js';

export function describeTarget(target: DrainTarget): string {
  return `${target.site}${target.node ? `/${target.node}` : ''}${target.prefix ? ` ${target.prefix}` : ''}`;
}

/** "3s ago", "2m ago" (rounded down). */
export function ago(ms: number): string {
  if (ms < 1000) return 'just now';
  const seconds = Math.floor(ms / 1000);
  if (seconds < 120) return `${seconds}s ago`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 120) return `${minutes}m ago`;
  return `${Math.floor(minutes / 60)}h ago`;
}

export function formatRules(rules: readonly Violation[]): string[] {
  return rules.map((v) =>
    v.overridden !== undefined
      ? `  ~ ${v.rule} (overridden: ${v.overridden}): ${v.message}`
      : `  ✗ ${v.rule}${v.retryable ? '' : ' (waiting cannot help)'}: ${v.message}`,
  );
}

export function refusalText(target: DrainTarget, rules: readonly Violation[]): string {
  const blocking = rules.filter((v) => v.overridden === undefined);
  return [
    `drain of ${describeTarget(target)} refused by ${blocking.map((v) => v.rule).join(', ')}; nothing changed:`,
    ...formatRules(rules),
    'Override a rule only with a reason: --override RULE="why" (one per rule; there is no --force).',
  ].join('\n');
}

export function dryRunText(target: DrainTarget, result: DrainCreated): string {
  const lines = [
    `dry run: draining ${describeTarget(target)} (nodes ${result.nodes.join(', ')}) would be ${result.evaluation.allowed ? 'allowed' : 'refused'}`,
  ];
  if (result.evaluation.violations.length) lines.push(...formatRules(result.evaluation.violations));
  else lines.push('  no rule blocks it');
  if (result.otherHolds.length)
    lines.push(
      `other holds on ${target.site}: ${result.otherHolds.map((h) => `${h.id} by ${h.owner} (${h.reason})`).join('; ')}`,
    );
  lines.push('nothing changed');
  return lines.join('\n');
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

export function phaseText(drain: DrainView): string {
  if (drain.status === 'released') return `released by ${drain.releasedBy ?? '?'}`;
  if (drain.complete) return 'complete';
  if (drain.blocked.length) return `withdraw step blocked by ${drain.blocked.map((v) => v.rule).join(', ')}`;
  const preDraining = drain.nodes.filter((n) => preDrainActive(n.preDrain)).map((n) => n.node);
  if (drain.phase === 'graceful' && preDraining.length)
    return `pre-drain on ${preDraining.join(', ')}: steering new sessions away and waiting for live ones; the policy is checked again before the withdraw`;
  return drain.phase === 'graceful' ? 'graceful phase (GRACEFUL_SHUTDOWN)' : 'withdraw step';
}

export function drainHeader(drain: DrainView): string {
  return (
    `drain ${drain.id} of ${describeTarget(drain.target)} by ${drain.owner}: ${drain.reason}` +
    `${drain.ticket ? ` [${drain.ticket}]` : ''} — ${phaseText(drain)}${drain.overdue ? ' — OVERDUE' : ''}`
  );
}

export function nodeLine(node: NodeProgress | ReleaseNode): string {
  return `  ${pad(node.node, 16)} ${pad(node.stage, 10)} ${node.detail}${node.stale ? ' (agent stale: last known state)' : ''}`;
}

/** The whole progress block of a drain (or of its release). */
export function drainBlock(drain: DrainView): string[] {
  const lines = [drainHeader(drain)];
  if (drain.release) lines.push(...drain.release.nodes.map(nodeLine));
  else lines.push(...drain.nodes.map(nodeLine));
  if (drain.blocked.length && drain.status === 'active') lines.push(...formatRules(drain.blocked));
  return lines;
}

/** The banner `herald status` starts with while the coordinator is in panic mode (docs/panic-mode.md). */
export function panicBanner(status: FleetStatus, now: number): string[] {
  const panic = status.panic;
  if (!panic?.active) return [];
  const pct = (share: number) => `${Math.round(share * 100)}%`;
  const kept = panic.ignoring.map((n) => `${n.node} (${n.checks.join(', ')})`).join(', ') || 'none yet';
  return [
    `!!! PANIC MODE since ${panic.since === null ? '?' : `${new Date(panic.since).toISOString()} (${ago(now - panic.since)})`}: ` +
      `${panic.healthySites} of ${panic.reportingSites} reporting site(s) pass every check; ` +
      `disengages at ${pct(panic.releaseAt)} (threshold ${pct(panic.threshold)})`,
    `!!! failing fail-open checks are ignored on nodes whose proxy still answers; kept announcing by panic: ${kept}`,
    `!!! ${panic.reason ?? ''}`,
    '',
  ];
}

const CERT_PREFIX = { ok: '', warn: 'WARNING: ', alarm: 'EXPIRED: ' } as const;

/** One line per TLS check: "    cert sip-tls: 64 d left (notAfter 2027-02-07)"; warn ≤ 20 days, alarm once expired. */
export function certificateLines(node: NodeStatus, now: number): string[] {
  return (node.certificates ?? []).map((cert) => {
    const expiry = certificateExpiry(cert.notAfterUnixSeconds, now);
    return `    cert ${cert.check}: ${CERT_PREFIX[expiry.urgency]}${expiry.text} (notAfter ${expiry.date})`;
  });
}

/** What a held-down node's line adds: " [checks pass; held down for flapping for another 42 s (5 flaps)]". */
function healthNote(node: FleetStatus['sites'][number]['nodes'][number], now: number): string {
  if (node.stale) return '';
  if (node.holdDown)
    return ` [checks ${node.healthy === false ? 'FAIL' : 'pass'}; ${holdDownPhrase(node.holdDown.until - now, node.holdDown.flaps)}]`;
  return '';
}

/** "    pre-drain: waiting for sessions: 3 live, threshold 0 (deadline 06:52:10Z)" while a node pre-drains or after. */
export function preDrainLines(node: NodeStatus): string[] {
  if (!node.preDrain || node.preDrain.phase === 'idle') return [];
  return [`    ${preDrainPhrase(node.preDrain)}`];
}

/**
 * The coordinator replicas (etcd store): each one, the leader, and the one that answered.
 * Nothing for a single coordinator on SQLite, or one older than replicas.
 */
export function replicaLines(status: FleetStatus): string[] {
  const replicas = status.replicas;
  if (!replicas || replicas.engine === 'sqlite') return [];
  const names = replicas.list.map(
    (r) =>
      `${r.id}${r.leader ? ' (leader)' : ''}${r.self ? ' (serving you)' : ''}${r.url ? ` ${r.url}` : ''}`,
  );
  return [
    `replicas: ${replicas.list.length}; ${replicas.leader === null ? 'NO LEADER (windows, drain steps and panic paused)' : `leader ${replicas.leader}`}; serving you: ${replicas.self}`,
    ...names.map((n) => `  replica ${n}`),
  ];
}

/**
 * `herald status [SITE]`. With a SITE the coordinator sends that site only, while
 * `announcingSites` stays fleet-wide: the first line counts the sites shown, and gives the fleet's
 * count apart, never one over the other.
 */
export function statusText(status: FleetStatus, now: number, filter: { site?: string } = {}): string {
  const lines: string[] = [...panicBanner(status, now)];
  const floor = status.policy.minAnnouncingSites;
  const policy =
    `floor ${floor}${status.policy.regionFloor ? ', never the last of a region' : ''}; ` +
    `at most ${status.policy.maxConcurrentDrains} drain(s) at once`;
  if (filter.site === undefined)
    lines.push(`${status.announcingSites} of ${status.sites.length} site(s) announcing (${policy})`);
  else {
    const shown = status.sites.filter((s) => s.announcing).length;
    lines.push(
      `site ${filter.site}: ${shown} of ${status.sites.length} shown site(s) announcing; ` +
        `fleet-wide ${status.announcingSites} site(s) announcing (${policy})`,
    );
  }
  lines.push(...replicaLines(status));
  for (const site of status.sites) {
    lines.push('');
    lines.push(
      `${site.name} (${site.region}) ${site.announcing ? `announcing ${site.announcingPrefixes.join(', ')}` : 'NOT ANNOUNCING'}`,
    );
    for (const node of site.nodes) {
      const state = node.state ?? 'no report';
      const routes =
        (node.prefixes.map((p) => `${p.prefix} ${p.acknowledged}`).join(', ') || '-') +
        (node.panicIgnored?.length ? ` [PANIC: ignoring ${node.panicIgnored.join(', ')}]` : '');
      const seen =
        node.lastSeenAt === null
          ? 'never seen'
          : node.stale
            ? `STALE (last seen ${ago(now - node.lastSeenAt)})`
            : node.connected
              ? 'connected'
              : node.servedBy
                ? `via replica ${node.servedBy}`
                : `reporting, push stream down`;
      lines.push(
        `  ${pad(node.name, 16)} ${pad(state, 9)} ${pad(seen, 22)} ${routes}${healthNote(node, now)}`,
      );
      lines.push(...certificateLines(node, now));
      lines.push(...preDrainLines(node));
    }
    for (const hold of site.holds)
      lines.push(
        `  hold ${hold.drainId} by ${hold.owner}${hold.node ? ` on ${hold.node}` : ''}${hold.prefix ? ` for ${hold.prefix}` : ''}: ${hold.reason}` +
          ` [${hold.complete ? 'drained' : 'in progress'}${hold.overdue ? ', OVERDUE' : ''}]`,
      );
  }
  return lines.join('\n');
}

export function windowsText(windows: readonly WindowView[], now: number): string {
  if (!windows.length) return 'no maintenance windows';
  return windows
    .map((w) => {
      const next = w.nextStartAt === null ? 'never' : new Date(w.nextStartAt).toISOString();
      const occurrence = w.occurrence
        ? w.occurrence.ended
          ? `last ran ${ago(now - w.occurrence.startedAt)}${w.occurrence.drainId ? ` (drain ${w.occurrence.drainId})` : ''}`
          : `IN PROGRESS until ${new Date(w.occurrence.endsAt).toISOString()}` +
            (w.occurrence.drainId
              ? ` (drain ${w.occurrence.drainId})`
              : ` (refused: ${w.occurrence.refused.map((v) => v.rule).join(', ')})`)
        : 'not run yet';
      return (
        `${w.id}  ${describeTarget(w.target)}  cron "${w.cron}"${w.timezone ? ` ${w.timezone}` : ''} for ${formatDuration(w.durationMs)}` +
        `${w.autoRelease ? ', auto-release' : ''} by ${w.owner}: ${w.reason}\n    next start ${next}; ${occurrence}`
      );
    })
    .join('\n');
}
