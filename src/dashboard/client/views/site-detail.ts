/**
 * One site in full: state and why, its drains and holds with progress, and a card per node.
 * Re-rendered only when something it shows changed (ages tick on their own), keeping focus.
 */
import type { DrainTarget, DrainView } from '../../../wire/coordinator-api.js';
import { formatAgo } from '../../shared/format.js';
import type { DashboardState } from '../model/dashboard-state.js';
import { ageText, h, refreshAges, renderKeepingFocus, replaceChildren } from '../dom.js';
import { drainCard } from './drain-card.js';
import { nodeCard } from './node-card.js';
import { stateBadge } from './state-icon.js';
import { stateStrip } from './state-timeline.js';

/** The site's own strip covers the last hour (the History tab goes back further). */
const SITE_STRIP_MS = 3_600_000;

export interface SiteActions {
  drain: (target: DrainTarget) => void;
  release: (drain: DrainView) => void;
}

export class SiteDetail {
  readonly element = h('section', { class: 'site-detail', 'aria-labelledby': 'site-title' });
  private lastKey = '';

  constructor(private readonly actions: SiteActions) {}

  render(state: DashboardState, siteName: string): void {
    const now = state.now();
    const site = state.fleet?.sites.find((s) => s.name === siteName);
    const view = state.siteViews.get(siteName);
    const operator = state.session?.role === 'operator';
    const drains = [...state.drains.values()]
      .filter(
        (d) => d.target.site === siteName && (d.status === 'active' || (d.releasedAt ?? 0) > now - 3_600_000),
      )
      .sort(
        (a, b) => Number(a.status !== 'active') - Number(b.status !== 'active') || b.createdAt - a.createdAt,
      );
    const key = JSON.stringify([
      site,
      view?.state,
      view?.summary,
      operator,
      drains,
      [...state.details]
        .filter(([node]) => site?.nodes.some((n) => n.name === node))
        .map(([node, d]) => [node, d.status.checks, d.status.neighbors, d.status.holdDown, d.status.exabgp]),
      state.latency?.generatedAt,
      state.states?.sites[siteName],
      state.detailsAvailable,
      state.windows.length,
    ]);
    if (key === this.lastKey) {
      refreshAges(this.element, now);
      return;
    }
    this.lastKey = key;
    renderKeepingFocus(this.element, () => {
      if (!state.fleet) {
        replaceChildren(this.element, h('p', { class: 'muted' }, 'Loading…'));
        return;
      }
      if (!site || !view) {
        replaceChildren(
          this.element,
          h('a', { href: '#/', class: 'back' }, '← All sites'),
          h('h2', { id: 'site-title' }, `No site called ${siteName}`),
        );
        return;
      }
      const latencyNodes = state.latency?.nodes ?? null;
      replaceChildren(
        this.element,
        h('a', { href: '#/', class: 'back', 'data-focus-key': 'back' }, '← All sites'),
        h(
          'header',
          { class: 'site-header' },
          h(
            'h2',
            { id: 'site-title' },
            site.name,
            site.location.label ? h('span', { class: 'muted' }, ` · ${site.location.label}`) : null,
          ),
          stateBadge(view.state),
          h('span', { class: 'site-summary', 'data-testid': 'site-summary' }, view.summary),
          h(
            'span',
            { class: 'muted' },
            ` · region ${site.region} · last report `,
            ageText(view.lastSeenAt, formatAgo, now),
          ),
          operator
            ? h(
                'button',
                {
                  type: 'button',
                  class: 'button primary',
                  'data-action': 'drain-site',
                  'data-focus-key': 'drain-site',
                  onclick: () => this.actions.drain({ site: site.name }),
                },
                'Drain site…',
              )
            : null,
        ),
        state.states?.sites[siteName]
          ? h(
              'div',
              { class: 'site-strip' },
              h('h3', {}, 'State over the last hour'),
              stateStrip(state.states.sites[siteName]!, state.states, now, 'wide', SITE_STRIP_MS),
            )
          : null,
        h(
          'section',
          { class: 'site-drains', 'aria-label': 'Drains and holds on this site' },
          h('h3', {}, `Drains and holds (${drains.filter((d) => d.status === 'active').length} active)`),
          drains.length
            ? drains.map((d) => drainCard(d, state.windows, now, operator ? this.actions.release : null))
            : h('p', { class: 'muted' }, 'No drains or holds on this site.'),
        ),
        h(
          'section',
          { class: 'site-nodes', 'aria-label': 'Nodes' },
          h('h3', {}, `Nodes (${view.announcingNodes} of ${site.nodes.length} announcing)`),
          site.nodes.map((node) =>
            nodeCard({
              node,
              view: view.nodes.get(node.name) ?? {
                state: 'stale',
                detail: 'unknown',
                announcingPrefixes: [],
              },
              detail: state.details.get(node.name)?.status ?? null,
              detailsAvailable: state.detailsAvailable,
              latency: latencyNodes ? (latencyNodes[node.name] ?? {}) : null,
              latencyWindowMs: state.latency?.windowMs ?? 3_600_000,
              now,
              onDrainNode: operator ? () => this.actions.drain({ site: site.name, node: node.name }) : null,
            }),
          ),
        ),
      );
    });
  }
}
