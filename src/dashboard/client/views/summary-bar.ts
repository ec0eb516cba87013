/**
 * The numbers people look at first: sites announcing out of total against the policy floor
 * (per prefix), whether another drain looks safe, drains in progress, and what is broken.
 * Re-rendered only when one of those numbers changes.
 */
import { plural } from '../../shared/format.js';
import { DISPLAY_STATES, STATE_LABELS, type DisplayState } from '../../shared/site-state.js';
import type { DashboardState } from '../model/dashboard-state.js';
import { h, replaceChildren } from '../dom.js';
import { stateBadge } from './state-icon.js';

export class SummaryBar {
  private lastKey = '';

  constructor(private readonly element: HTMLElement) {
    element.classList.add('summary');
    element.setAttribute('aria-label', 'Fleet summary');
  }

  render(state: DashboardState): void {
    const headroom = state.headroom;
    if (!state.fleet || !headroom) {
      if (this.lastKey !== 'loading')
        replaceChildren(this.element, h('p', { class: 'muted' }, 'Loading the fleet…'));
      this.lastKey = 'loading';
      return;
    }
    const counts = new Map<DisplayState, number>(DISPLAY_STATES.map((s) => [s, 0]));
    for (const view of state.siteViews.values()) counts.set(view.state, (counts.get(view.state) ?? 0) + 1);
    const active = [...state.drains.values()].filter((d) => d.status === 'active');
    const overdue = active.filter((d) => d.overdue).length;
    const blocked = active.filter((d) => d.blocked.length > 0).length;
    const key = JSON.stringify([headroom, [...counts], active.length, overdue, blocked]);
    if (key === this.lastKey) return;
    this.lastKey = key;

    const belowFloor =
      headroom.prefixes.some((p) => p.sites < headroom.floor) || headroom.announcingSites < headroom.floor;
    const announcingCard = h(
      'div',
      { class: `card announcing-card${belowFloor ? ' alarm' : ''}`, 'data-testid': 'announcing-count' },
      h('div', { class: 'card-title' }, 'Sites announcing'),
      h(
        'div',
        { class: 'big-number' },
        h('span', { class: 'count' }, String(headroom.announcingSites)),
        h('span', { class: 'of' }, ` / ${headroom.totalSites}`),
      ),
      h(
        'div',
        { class: 'card-line' },
        `policy floor ${headroom.floor}${belowFloor ? ' — BELOW THE FLOOR' : ''}`,
      ),
      headroom.prefixes.length > 1
        ? h(
            'ul',
            { class: 'prefix-counts' },
            headroom.prefixes.map((p) =>
              h(
                'li',
                { class: p.sites < headroom.floor ? 'alarm-text' : '' },
                h('code', {}, p.prefix),
                `: ${plural(p.sites, 'site')}`,
              ),
            ),
          )
        : null,
    );

    const safeCard = h(
      'div',
      { class: `card safe-card ${headroom.safe ? 'ok' : 'warn'}`, 'data-testid': 'safe-to-drain' },
      h('div', { class: 'card-title' }, 'Safe to drain another site?'),
      h('div', { class: 'big-word' }, headroom.safe ? '✓ Yes' : '✕ No'),
      headroom.safe
        ? h(
            'div',
            { class: 'card-line' },
            `${headroom.announcingSites - headroom.floor} above the floor; ${headroom.sitesUnderDrain.length} of ${headroom.maxConcurrentDrains} drain slots used`,
          )
        : h(
            'ul',
            { class: 'card-list' },
            headroom.blockers.map((b) => h('li', {}, b)),
          ),
      headroom.regionsAtLastSite.length
        ? h(
            'div',
            { class: 'card-line warn-text' },
            `Last announcing site in: ${headroom.regionsAtLastSite.join(', ')}`,
          )
        : null,
      h('div', { class: 'card-hint' }, 'The dry run in the drain dialog decides for a given site.'),
    );

    const drainsCard = h(
      'a',
      { class: 'card drains-card', href: '#/drains', 'data-testid': 'drain-count' },
      h('div', { class: 'card-title' }, 'Drains in progress'),
      h('div', { class: 'big-number' }, h('span', { class: 'count' }, String(active.length))),
      h(
        'div',
        { class: 'card-line' },
        [overdue ? `${overdue} overdue` : '', blocked ? `${blocked} blocked by policy` : '']
          .filter(Boolean)
          .join(', ') || 'none overdue or blocked',
      ),
    );

    const statesCard = h(
      'div',
      { class: 'card states-card', 'data-testid': 'state-counts' },
      h('div', { class: 'card-title' }, 'Sites by state'),
      h(
        'ul',
        { class: 'state-counts' },
        DISPLAY_STATES.map((s) =>
          h(
            'li',
            { class: counts.get(s) ? '' : 'zero' },
            stateBadge(s, `${STATE_LABELS[s]}: ${counts.get(s) ?? 0}`),
          ),
        ),
      ),
    );
    replaceChildren(this.element, announcingCard, safeCard, drainsCard, statesCard);
  }
}
