/**
 * Drains and holds across the fleet: active drains first (flagged ones on top), recently
 * released ones with their return progress, and the maintenance windows with their next start.
 */
import type { DrainView } from '../../../wire/coordinator-api.js';
import { formatAgo, formatDateTime, formatRelative, formatSpan } from '../../shared/format.js';
import type { DashboardState } from '../model/dashboard-state.js';
import { h, refreshAges, renderKeepingFocus, replaceChildren } from '../dom.js';
import { drainFlags, needsAttention } from '../../shared/drain-flags.js';
import { describeDrainTarget, drainCard } from './drain-card.js';

export class DrainsView {
  readonly element = h('section', { class: 'drains-view', 'aria-label': 'Drains and holds' });
  private lastKey = '';

  constructor(private readonly release: (drain: DrainView) => void) {}

  render(state: DashboardState): void {
    const now = state.now();
    const operator = state.session?.role === 'operator';
    const drains = [...state.drains.values()];
    const key = JSON.stringify([drains, state.windows, operator, Math.floor(now / 30_000)]);
    if (key === this.lastKey) {
      refreshAges(this.element, now);
      return;
    }
    this.lastKey = key;
    const active = drains.filter((d) => d.status === 'active');
    const flagged = (d: DrainView) => needsAttention(drainFlags(d, state.windows));
    active.sort((a, b) => Number(flagged(b)) - Number(flagged(a)) || a.createdAt - b.createdAt);
    const released = drains
      .filter((d) => d.status === 'released' && (d.releasedAt ?? 0) > now - 6 * 3_600_000)
      .sort((a, b) => (b.releasedAt ?? 0) - (a.releasedAt ?? 0));
    const flaggedCount = active.filter(flagged).length;
    renderKeepingFocus(this.element, () =>
      replaceChildren(
        this.element,
        h('h2', {}, `Active drains (${active.length})`),
        flaggedCount
          ? h(
              'p',
              { class: 'warn-text' },
              `⚠ ${flaggedCount} need attention (overdue, window ended, ownerless or blocked).`,
            )
          : null,
        active.length
          ? h(
              'div',
              { class: 'drain-list' },
              active.map((d) => drainCard(d, state.windows, now, operator ? this.release : null)),
            )
          : h('p', { class: 'muted' }, 'No active drains: every site is free to announce.'),
        h('h2', {}, 'Maintenance windows'),
        state.windows.length
          ? h(
              'table',
              { class: 'mini-table windows' },
              h(
                'thead',
                {},
                h(
                  'tr',
                  {},
                  ['Target', 'Schedule', 'Next start', 'Current', 'Owner', 'Reason'].map((t) =>
                    h('th', { scope: 'col' }, t),
                  ),
                ),
              ),
              h(
                'tbody',
                {},
                state.windows.map((w) =>
                  h(
                    'tr',
                    {},
                    h('th', { scope: 'row' }, describeDrainTarget(w)),
                    h(
                      'td',
                      {},
                      h('code', {}, w.cron),
                      ` for ${formatSpan(w.durationMs)}${w.timezone ? ` (${w.timezone})` : ''}${w.autoRelease ? ', auto-release' : ''}`,
                    ),
                    h(
                      'td',
                      {},
                      w.nextStartAt
                        ? `${formatDateTime(w.nextStartAt)} (${formatRelative(w.nextStartAt, now)})`
                        : '—',
                    ),
                    h(
                      'td',
                      {},
                      w.occurrence
                        ? w.occurrence.ended
                          ? `ended ${formatAgo(w.occurrence.endsAt, now)}${w.occurrence.drainId ? `; drain ${w.occurrence.drainId}` : ''}`
                          : `running until ${formatDateTime(w.occurrence.endsAt)}${w.occurrence.refused.length ? ` — refused: ${w.occurrence.refused.map((v) => v.rule).join(', ')}` : ''}`
                        : '—',
                    ),
                    h('td', {}, w.owner),
                    h('td', {}, w.reason),
                  ),
                ),
              ),
            )
          : h('p', { class: 'muted' }, 'No maintenance windows.'),
        h('h2', {}, `Released in the last 6 hours (${released.length})`),
        released.length
          ? h(
              'div',
              { class: 'drain-list' },
              released.map((d) => drainCard(d, state.windows, now, null)),
            )
          : h('p', { class: 'muted' }, 'None.'),
      ),
    );
  }
}
