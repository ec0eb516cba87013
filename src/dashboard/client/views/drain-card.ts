/**
 * One drain as a card: target, owner, reason, ticket, age, deadline, phase, per-node progress
 * and the flags people must not miss (overdue, blocked by a rule, its maintenance window over,
 * nobody owning it any more). Operators get a Release button; viewers do not.
 */
import { formatAgo, formatDateTime, formatRelative, formatSpan } from '../../shared/format.js';
import type { DrainStage, DrainView, WindowView } from '../../../wire/coordinator-api.js';
import { drainFlags } from '../../shared/drain-flags.js';
import { preDrainActive } from '../../../wire/pre-drain-phrase.js';
import { ageText, h, type Child } from '../dom.js';

const STAGE_LABEL: Record<DrainStage, string> = {
  pending: '… pending',
  draining: '◐ graceful',
  withdrawn: '⊖ withdrawn',
  verified: '✓ verified gone',
};

export function describeDrainTarget(drain: Pick<DrainView, 'target'>): string {
  const { site, node, prefix } = drain.target;
  return `${node ? `node ${node} of ${site}` : `site ${site}`}${prefix ? `, prefix ${prefix}` : ''}`;
}

export function drainCard(
  drain: DrainView,
  windows: readonly WindowView[],
  now: number,
  onRelease: ((drain: DrainView) => void) | null,
): HTMLElement {
  const flags = drainFlags(drain, windows);
  const withdrawnNodes = drain.nodes.filter((n) => n.stage === 'withdrawn' || n.stage === 'verified').length;
  const preDraining = drain.nodes.filter((n) => preDrainActive(n.preDrain)).map((n) => n.node);
  const status =
    drain.status === 'released'
      ? drain.release?.complete
        ? 'released · every node returned'
        : 'released · returning'
      : drain.complete
        ? `drained · complete ${drain.completedAt ? formatAgo(drain.completedAt, now) : ''}`
        : drain.phase === 'graceful' && preDraining.length
          ? `draining · pre-drain on ${preDraining.join(', ')}: new sessions steered away, waiting for live ones (route still announced normally)`
          : drain.phase === 'graceful'
            ? 'draining · graceful phase (still carrying traffic, de-preferred)'
            : 'draining · withdrawing';
  const flagList: Child[] = [
    flags.overdue
      ? h(
          'li',
          { class: 'flag flag-overdue' },
          `⏰ Overdue: the deadline passed ${drain.deadline ? formatAgo(drain.deadline, now) : ''}`,
        )
      : null,
    flags.windowEnded
      ? h(
          'li',
          { class: 'flag flag-window' },
          `⌛ Its maintenance window ended ${formatAgo(flags.windowEnded.occurrence!.endsAt, now)}; still drained${flags.windowEnded.autoRelease ? ' (auto-release waits for health)' : ''}`,
        )
      : null,
    flags.ownerless
      ? h(
          'li',
          { class: 'flag flag-ownerless' },
          `⚠ Its maintenance window ${drain.windowId} no longer exists: nobody owns this drain`,
        )
      : null,
    ...(flags.blocked
      ? drain.blocked.map((v) =>
          h('li', { class: 'flag flag-blocked' }, `⛔ Held before withdrawing by ${v.rule}: ${v.message}`),
        )
      : []),
  ].filter(Boolean);
  const releaseButton =
    onRelease && drain.status === 'active'
      ? h(
          'button',
          {
            type: 'button',
            class: 'button danger-outline',
            'data-focus-key': `release-${drain.id}`,
            'data-action': 'release',
            onclick: () => onRelease(drain),
          },
          'Release hold…',
        )
      : null;
  return h(
    'article',
    {
      class: `drain-card${flags.overdue || flags.windowEnded || flags.ownerless ? ' flagged' : ''} drain-${drain.status}`,
      'data-drain': drain.id,
      'aria-label': `Drain ${drain.id} of ${describeDrainTarget(drain)}`,
    },
    h(
      'header',
      {},
      h('h3', {}, describeDrainTarget(drain)),
      h('span', { class: 'drain-status', 'data-testid': 'drain-status' }, status),
      releaseButton,
    ),
    flagList.length ? h('ul', { class: 'flags' }, flagList) : null,
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Reason'),
      h('dd', {}, drain.reason),
      h('dt', {}, 'Owner'),
      h('dd', {}, drain.owner),
      h('dt', {}, 'Ticket'),
      h('dd', {}, drain.ticket ?? '—'),
      h('dt', {}, 'Started'),
      h('dd', {}, `${formatDateTime(drain.createdAt)} (`, ageText(drain.createdAt, formatAgo, now), ')'),
      h('dt', {}, 'Deadline'),
      h(
        'dd',
        {},
        drain.deadline
          ? `${formatDateTime(drain.deadline)} (${formatRelative(drain.deadline, now)})`
          : 'none',
      ),
      drain.holdMs !== null ? [h('dt', {}, 'Graceful hold'), h('dd', {}, formatSpan(drain.holdMs))] : null,
      drain.overrides.length
        ? [
            h('dt', {}, 'Overrides'),
            h('dd', {}, drain.overrides.map((o) => `${o.rule} (${o.reason})`).join('; ')),
          ]
        : null,
      h('dt', {}, 'Id'),
      h('dd', {}, h('code', {}, drain.id)),
      drain.status === 'released'
        ? [
            h('dt', {}, 'Released'),
            h(
              'dd',
              {},
              `${drain.releasedAt ? formatAgo(drain.releasedAt, now) : ''} by ${drain.releasedBy ?? '?'}${drain.releaseReason ? `: ${drain.releaseReason}` : ''}`,
            ),
          ]
        : null,
    ),
    h(
      'div',
      { class: 'progress' },
      h(
        'div',
        { class: 'progress-title' },
        drain.status === 'released'
          ? 'Return per node'
          : `Progress: ${withdrawnNodes} of ${drain.nodes.length} nodes withdrawn`,
      ),
      h(
        'ul',
        { class: 'node-progress' },
        drain.status === 'released' && drain.release
          ? drain.release.nodes.map((n) =>
              h(
                'li',
                { class: `stage stage-${n.stage}${n.stale ? ' stale' : ''}`, title: n.detail },
                h('strong', {}, n.node),
                ` ${n.stage}${n.stale ? ' (stale)' : ''}`,
                h('span', { class: 'muted' }, ` — ${n.detail}`),
              ),
            )
          : drain.nodes.map((n) =>
              h(
                'li',
                {
                  class: `stage stage-${n.stage}${n.stale ? ' stale' : ''}`,
                  'data-node': n.node,
                  'data-stage': n.stage,
                  ...(n.preDrain ? { 'data-pre-drain': n.preDrain.phase } : {}),
                },
                h('strong', {}, n.node),
                ` ${preDrainActive(n.preDrain) ? '⏳ pre-drain' : STAGE_LABEL[n.stage]}${n.stale ? ' (agent stale: last known)' : ''}`,
                h('span', { class: 'muted' }, ` — ${n.detail}, since `, ageText(n.since, formatAgo, now)),
              ),
            ),
      ),
    ),
  );
}
