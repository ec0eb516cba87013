/**
 * One node of a site: its state and why, last report and staleness, each prefix's desired
 * versus acknowledged announcement, every check with its last result, latency over the hour
 * and certificate days left, flap hold-down, BGP neighbors and ExaBGP acknowledgements.
 */
import {
  certNotAfterUnixSeconds,
  type AgentStatus,
  type CheckStatus,
  type PrefixStatus,
} from '../../../wire/agent-status.js';
import { certificateExpiry } from '../../../wire/certificate-expiry.js';
import type { NodeStatus } from '../../../wire/coordinator-api.js';
import { preDrainPhrase } from '../../../wire/pre-drain-phrase.js';
import { formatAgo, formatLatency, formatSpan } from '../../shared/format.js';
import type { LatencyPoint } from '../../shared/history-schema.js';
import { STATE_LABELS, type NodeView } from '../../shared/site-state.js';
import { ageText, h, type Child } from '../dom.js';
import { sparkline } from './sparkline.js';
import { stateBadge } from './state-icon.js';

const CHECK_ICON: Record<CheckStatus['status'], string> = {
  up: '✓ up',
  warn: '! warn',
  down: '✕ down',
  pending: '… pending',
};

export interface NodeCardInput {
  node: NodeStatus;
  view: NodeView;
  detail: AgentStatus | null;
  /** Whether the coordinator can give full reports at all. */
  detailsAvailable: boolean | null;
  latency: Record<string, LatencyPoint[]> | null;
  latencyWindowMs: number;
  now: number;
  onDrainNode: (() => void) | null;
}

/**
 * The node's pre-drain (docs/turn.md) while it steers and waits for live sessions, and how it
 * ended: the live count, the threshold, the deadline, and any failed or hung command.
 */
function preDrainLine(node: NodeStatus): Child {
  const preDrain = node.preDrain;
  if (!preDrain || preDrain.phase === 'idle' || node.stale) return null;
  const failed = preDrain.steerError !== undefined || preDrain.gaugeError !== undefined;
  return h(
    'p',
    {
      class: `pre-drain${failed ? ' warn-text' : ''}`,
      'data-testid': 'pre-drain',
      'data-pre-drain': preDrain.phase,
      ...(preDrain.count !== undefined ? { 'data-sessions': String(preDrain.count) } : {}),
    },
    preDrain.phase === 'complete' ? '✓ ' : '⏳ ',
    preDrainPhrase(preDrain),
  );
}

function prefixRows(prefixes: readonly PrefixStatus[], now: number): Child {
  if (!prefixes.length) return h('p', { class: 'muted' }, 'No prefixes reported.');
  return h(
    'table',
    { class: 'mini-table prefixes' },
    h('caption', {}, 'Prefixes: what the agent wants versus what ExaBGP acknowledged'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Prefix'),
        h('th', { scope: 'col' }, 'Desired'),
        h('th', { scope: 'col' }, 'Acknowledged'),
        h('th', { scope: 'col' }, 'Health'),
        h('th', { scope: 'col' }, 'Drained by'),
      ),
    ),
    h(
      'tbody',
      {},
      prefixes.map((p) => {
        const settled = p.desired === p.acknowledged;
        return h(
          'tr',
          { class: settled ? '' : 'unsettled', 'data-prefix': p.prefix },
          h('th', { scope: 'row' }, h('code', {}, p.prefix)),
          h('td', {}, p.desired),
          h(
            'td',
            {},
            settled ? '= ' : '≠ ',
            p.acknowledged,
            p.acknowledgedAt
              ? h('span', { class: 'muted' }, ' · ', ageText(p.acknowledgedAt, formatAgo, now))
              : null,
            settled ? null : h('span', { class: 'warn-text' }, ' (waiting for ExaBGP)'),
          ),
          h('td', {}, p.state),
          h('td', {}, p.drainedBy.length ? p.drainedBy.join(', ') : '—'),
        );
      }),
    ),
  );
}

const CERT_CLASS = { ok: '', warn: 'warn-text', alarm: 'alarm-text' } as const;
const CERT_MARK = { ok: '', warn: '! ', alarm: '✕ ' } as const;

/** Days left on the served chain's earliest notAfter (Unix seconds on the wire), warn ≤ 20 d, alarm once expired. */
function certCell(check: CheckStatus, now: number): Child {
  const notAfter = certNotAfterUnixSeconds(check);
  if (notAfter === undefined) return '—';
  const expiry = certificateExpiry(notAfter, now);
  return h(
    'span',
    {
      class: `cert-expiry ${CERT_CLASS[expiry.urgency]}`,
      'data-cert-days': String(expiry.daysLeft),
      'data-cert-urgency': expiry.urgency,
      title: `notAfter ${expiry.date}`,
    },
    `${CERT_MARK[expiry.urgency]}${expiry.text}`,
  );
}

function checkRows(input: NodeCardInput, detail: AgentStatus): Child {
  if (!detail.checks.length) return h('p', { class: 'muted' }, 'No checks reported.');
  return h(
    'table',
    { class: 'mini-table checks' },
    h('caption', {}, 'Health checks: last result and latency over the last hour'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Check'),
        h('th', { scope: 'col' }, 'Result'),
        h('th', { scope: 'col' }, 'Detail'),
        h('th', { scope: 'col' }, 'Last'),
        h('th', { scope: 'col' }, 'Latency, last hour'),
        h('th', { scope: 'col' }, 'Certificate'),
      ),
    ),
    h(
      'tbody',
      {},
      detail.checks.map((check) =>
        h(
          'tr',
          { class: `check-row-${check.status}`, 'data-check': check.name, 'data-status': check.status },
          h(
            'th',
            { scope: 'row' },
            check.name,
            h('span', { class: 'muted' }, ` ${check.type}${check.transport ? `/${check.transport}` : ''}`),
          ),
          h(
            'td',
            { class: `check-result check-${check.status}` },
            CHECK_ICON[check.status],
            check.failOpen ? h('span', { class: 'muted' }, ' (fail-open)') : null,
          ),
          h(
            'td',
            { class: 'check-detail' },
            check.detail,
            check.sipCode ? h('span', { class: 'muted' }, ` · SIP ${check.sipCode}`) : null,
            check.tlsVersion ? h('span', { class: 'muted' }, ` · ${check.tlsVersion}`) : null,
          ),
          h(
            'td',
            { class: 'num' },
            formatLatency(check.durationMs),
            h('br', {}),
            h('span', { class: 'muted' }, ageText(check.at, formatAgo, input.now)),
          ),
          h(
            'td',
            {},
            input.latency
              ? sparkline(input.latency[check.name] ?? [], input.latencyWindowMs, input.now)
              : h('span', { class: 'muted' }, 'history unavailable'),
          ),
          h('td', {}, certCell(check, input.now)),
        ),
      ),
    ),
  );
}

function extras(detail: AgentStatus, now: number): Child {
  const hold = detail.holdDown;
  return h(
    'div',
    { class: 'node-extras' },
    h(
      'section',
      { 'aria-label': 'Flap hold-down' },
      h('h4', {}, 'Flap hold-down'),
      hold.active
        ? h(
            'p',
            { class: 'warn-text' },
            `⏸ Held down for another ${formatSpan(hold.remainingMs)} (penalty ${Math.round(hold.penalty)}, ${hold.flaps} flaps)`,
          )
        : h('p', {}, `Not held down (penalty ${Math.round(hold.penalty)}, ${hold.flaps} flaps)`),
    ),
    h(
      'section',
      { 'aria-label': 'BGP neighbors' },
      h('h4', {}, 'BGP neighbors'),
      detail.neighbors.length
        ? h(
            'ul',
            { class: 'neighbors' },
            detail.neighbors.map((n) =>
              h(
                'li',
                { class: /up|established/i.test(n.state) ? '' : 'warn-text' },
                h('code', {}, n.peer),
                ` ${n.state} since `,
                ageText(n.since, formatAgo, now),
                n.reason ? ` (${n.reason})` : '',
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'none reported yet'),
    ),
    h(
      'section',
      { 'aria-label': 'ExaBGP' },
      h('h4', {}, 'ExaBGP'),
      h(
        'p',
        { class: detail.exabgp.ackFailures ? 'warn-text' : '' },
        `${detail.exabgp.ackFailures} unacknowledged commands`,
        detail.exabgp.lastError ? ` · last error: ${detail.exabgp.lastError}` : '',
      ),
    ),
    detail.drains.length
      ? h(
          'section',
          { 'aria-label': 'Drains held by the agent' },
          h('h4', {}, 'Drains held by the agent'),
          h(
            'ul',
            {},
            detail.drains.map((d) => h('li', {}, h('code', {}, d.id), ` (${d.source}): ${d.reason}`)),
          ),
        )
      : null,
  );
}

export function nodeCard(input: NodeCardInput): HTMLElement {
  const { node, view, detail, now } = input;
  const stale = view.state === 'stale';
  return h(
    'article',
    {
      class: `node-card state-border-${view.state}`,
      'data-node': node.name,
      'data-state': view.state,
      'aria-label': `Node ${node.name}: ${STATE_LABELS[view.state]}`,
    },
    h(
      'header',
      {},
      h('h3', {}, node.name),
      stateBadge(view.state),
      h('span', { class: 'node-detail' }, view.detail),
      input.onDrainNode
        ? h(
            'button',
            {
              type: 'button',
              class: 'button',
              'data-action': 'drain-node',
              'data-focus-key': `drain-node-${node.name}`,
              onclick: input.onDrainNode,
            },
            'Drain node…',
          )
        : null,
    ),
    h(
      'p',
      { class: `heartbeat${stale ? ' alarm-text' : ''}` },
      'Last report ',
      ageText(node.lastSeenAt, formatAgo, now),
      stale ? ' — STALE: this is the last known state, not the current one' : '',
      node.connected
        ? ' · push stream connected'
        : node.servedBy
          ? ` · connected to replica ${node.servedBy}`
          : ' · push stream not connected',
      node.healthy === null ? '' : node.healthy ? ' · local checks pass' : ' · local checks FAIL',
      // Apart from health: a held-down node's checks may all pass while it stays withdrawn.
      node.holdDown && !stale
        ? h(
            'span',
            { class: 'warn-text', 'data-hold-down': 'active' },
            ` · ⏸ held down for flapping, ${formatSpan(Math.max(0, node.holdDown.until - now))} left (${node.holdDown.flaps} flaps)`,
          )
        : '',
    ),
    preDrainLine(node),
    h(
      'div',
      { class: stale ? 'stale-content' : '' },
      prefixRows(node.prefixes, now),
      detail
        ? [checkRows(input, detail), extras(detail, now)]
        : h(
            'p',
            { class: 'muted' },
            input.detailsAvailable === false
              ? 'This coordinator does not serve full agent reports (checks, neighbors).'
              : node.servedBy
                ? `Checks and neighbors are shown by replica ${node.servedBy}, which this agent is connected to.`
                : node.lastSeenAt === null
                  ? 'The agent never reported.'
                  : 'Loading checks…',
          ),
    ),
  );
}
