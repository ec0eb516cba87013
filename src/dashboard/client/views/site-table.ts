/**
 * Every site as a row, grouped by region, sortable and filterable. Rows are keyed by site and
 * updated in place (only changed text is touched), so a fleet of 200 sites × 4 nodes re-renders
 * in a few milliseconds and keyboard focus survives live updates.
 */
import { formatCoarseAgo, plural } from '../../shared/format.js';
import {
  DISPLAY_STATES,
  STATE_LABELS,
  isAnnouncingState,
  type DisplayState,
  type SiteView,
} from '../../shared/site-state.js';
import type { SiteStatus } from '../../../wire/coordinator-api.js';
import type { DashboardState } from '../model/dashboard-state.js';
import { h, replaceChildren, setAttr, setText } from '../dom.js';
import { stateDot, stateIcon, stateLabel } from './state-icon.js';

type SortKey = 'site' | 'state' | 'nodes' | 'seen';

const SEVERITY: Record<DisplayState, number> = {
  down: 0,
  stale: 1,
  'held-down': 2,
  draining: 3,
  drained: 4,
  announcing: 5,
};

interface Row {
  tr: HTMLTableRowElement;
  state: HTMLTableCellElement;
  nodes: HTMLTableCellElement;
  prefixes: HTMLTableCellElement;
  holds: HTMLTableCellElement;
  seen: HTMLTableCellElement;
  summary: HTMLTableCellElement;
  key: string;
  search: string;
}

interface Group {
  tbody: HTMLTableSectionElement;
  header: HTMLTableCellElement;
}

export class SiteTable {
  readonly element: HTMLElement;
  private readonly table: HTMLTableElement;
  private readonly filterInput: HTMLInputElement;
  private readonly stateButtons = new Map<DisplayState, HTMLButtonElement>();
  private readonly shownCount: HTMLElement;
  private readonly problemsOnly: HTMLButtonElement;
  private readonly rows = new Map<string, Row>();
  private readonly groups = new Map<string, Group>();
  private readonly headers = new Map<SortKey, HTMLTableCellElement>();
  private sort: { key: SortKey; descending: boolean } = { key: 'state', descending: false };
  private hiddenStates = new Set<DisplayState>();
  private filterText = '';
  private lastState: DashboardState | null = null;

  constructor() {
    this.filterInput = h('input', {
      type: 'search',
      id: 'site-filter',
      placeholder: 'Filter: site, region, node, owner…  ( / )',
      'aria-label': 'Filter sites by name, region, node, hold owner or reason',
      autocomplete: 'off',
    });
    this.filterInput.addEventListener('input', () => {
      this.filterText = this.filterInput.value.trim().toLowerCase();
      this.rerender();
    });
    const stateFilters = h(
      'div',
      { class: 'state-filters', role: 'group', 'aria-label': 'Show sites in these states' },
      DISPLAY_STATES.map((state) => {
        const button = h(
          'button',
          {
            type: 'button',
            class: `toggle filter-toggle state-${state}`,
            'aria-pressed': 'true',
            'data-state-filter': state,
          },
          stateIcon(state),
          STATE_LABELS[state],
        );
        button.addEventListener('click', () => {
          if (this.hiddenStates.has(state)) this.hiddenStates.delete(state);
          else this.hiddenStates.add(state);
          this.rerender();
        });
        this.stateButtons.set(state, button);
        return button;
      }),
    );
    const problemsOnly = (this.problemsOnly = h(
      'button',
      { type: 'button', class: 'toggle', 'aria-pressed': 'false', 'data-testid': 'problems-only' },
      'Only problems',
    ));
    problemsOnly.addEventListener('click', () => {
      const only = !this.hiddenStates.has('announcing');
      this.hiddenStates = new Set(only ? ['announcing'] : []);
      this.rerender();
    });
    this.shownCount = h('span', { class: 'muted shown-count', 'aria-live': 'polite' });

    const headerCell = (key: SortKey | null, label: string, extraClass = '') => {
      if (!key) return h('th', { scope: 'col', class: extraClass }, label);
      const button = h(
        'button',
        { type: 'button', class: 'sort' },
        label,
        h('span', { class: 'sort-mark', 'aria-hidden': 'true' }),
      );
      button.addEventListener('click', () => {
        this.sort = { key, descending: this.sort.key === key ? !this.sort.descending : false };
        this.rerender();
      });
      const th = h('th', { scope: 'col', class: extraClass, 'aria-sort': 'none' }, button);
      this.headers.set(key, th);
      return th;
    };
    this.table = h(
      'table',
      { class: 'site-table', 'aria-label': 'Sites by region' },
      // Fixed column widths: a changed cell never makes the browser re-measure 200 rows.
      h(
        'colgroup',
        {},
        ['site', 'state', 'nodes', 'prefixes', 'holds', 'seen', 'why'].map((c) =>
          h('col', { class: `col-${c}` }),
        ),
      ),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          headerCell('site', 'Site'),
          headerCell('state', 'State'),
          headerCell('nodes', 'Nodes up'),
          headerCell(null, 'Prefixes'),
          headerCell(null, 'Drains and holds'),
          headerCell('seen', 'Last report'),
          headerCell(null, 'Why'),
        ),
      ),
    );
    this.element = h(
      'section',
      { class: 'table-panel', 'aria-label': 'Sites' },
      h('div', { class: 'table-tools' }, this.filterInput, stateFilters, problemsOnly, this.shownCount),
      h('div', { class: 'table-scroll' }, this.table),
    );
  }

  focusFilter(): void {
    this.filterInput.focus();
    this.filterInput.select();
  }

  private rerender(): void {
    if (this.lastState) this.render(this.lastState);
  }

  render(state: DashboardState): void {
    this.lastState = state;
    const fleet = state.fleet;
    if (!fleet) return;
    const now = state.now();
    const regionOf = new Map<string, SiteStatus[]>();
    for (const site of fleet.sites) {
      const list = regionOf.get(site.region) ?? [];
      list.push(site);
      regionOf.set(site.region, list);
    }
    const regions = [...regionOf.keys()].sort();
    let shown = 0;
    const bodies: HTMLTableSectionElement[] = [];
    for (const region of regions) {
      const group = this.group(region);
      const sites = regionOf.get(region)!;
      const visible: { site: SiteStatus; view: SiteView; row: Row }[] = [];
      let announcing = 0;
      for (const site of sites) {
        const view = state.siteViews.get(site.name);
        if (!view) continue;
        if (isAnnouncingState(view.state)) announcing++;
        const row = this.row(site);
        this.updateRow(row, site, view, now);
        if (this.hiddenStates.has(view.state)) continue;
        if (this.filterText && !row.search.includes(this.filterText)) continue;
        visible.push({ site, view, row });
      }
      visible.sort((a, b) => this.compare(a.view, b.view));
      const lastSite =
        announcing === 1 && fleet.policy.regionFloor ? ' — last announcing site of the region' : '';
      setText(
        group.header,
        `${region} · ${announcing} of ${plural(sites.length, 'site')} announcing${lastSite}`,
      );
      setAttr(group.header, 'class', `region-header${announcing <= 1 ? ' warn-text' : ''}`);
      const wanted = [group.header.parentElement!, ...visible.map((v) => v.row.tr)];
      syncChildren(group.tbody, wanted);
      group.tbody.hidden = visible.length === 0;
      shown += visible.length;
      bodies.push(group.tbody);
    }
    syncChildren(this.table, [this.table.querySelector('colgroup')!, this.table.tHead!, ...bodies]);
    setText(this.shownCount, `${shown} of ${plural(fleet.sites.length, 'site')} shown`);
    for (const [filterState, button] of this.stateButtons)
      setAttr(button, 'aria-pressed', String(!this.hiddenStates.has(filterState)));
    setAttr(
      this.problemsOnly,
      'aria-pressed',
      String(this.hiddenStates.size === 1 && this.hiddenStates.has('announcing')),
    );
    for (const [key, th] of this.headers)
      setAttr(
        th,
        'aria-sort',
        key === this.sort.key ? (this.sort.descending ? 'descending' : 'ascending') : 'none',
      );
  }

  private compare(a: SiteView, b: SiteView): number {
    let result = 0;
    switch (this.sort.key) {
      case 'site':
        result = a.name.localeCompare(b.name);
        break;
      case 'state':
        result = SEVERITY[a.state] - SEVERITY[b.state] || Number(b.degraded) - Number(a.degraded);
        break;
      case 'nodes':
        result = a.announcingNodes - b.announcingNodes;
        break;
      case 'seen':
        result = (a.lastSeenAt ?? 0) - (b.lastSeenAt ?? 0);
        break;
    }
    result = result || a.name.localeCompare(b.name);
    return this.sort.descending ? -result : result;
  }

  private group(region: string): Group {
    let group = this.groups.get(region);
    if (!group) {
      const header = h('th', { colspan: 7, scope: 'rowgroup', class: 'region-header' });
      const tbody = h('tbody', { 'data-region': region }, h('tr', { class: 'region-row' }, header));
      group = { tbody, header };
      this.groups.set(region, group);
    }
    return group;
  }

  private row(site: SiteStatus): Row {
    let row = this.rows.get(site.name);
    if (!row) {
      const link = h(
        'a',
        {
          href: `#/site/${encodeURIComponent(site.name)}`,
          class: 'site-link',
          'data-focus-key': `site-${site.name}`,
        },
        site.name,
      );
      const place = site.location.label
        ? h('span', { class: 'muted place' }, ` ${site.location.label}`)
        : null;
      const cells = {
        state: h('td', { class: 'state-cell' }),
        nodes: h('td', { class: 'nodes-cell' }),
        prefixes: h('td', { class: 'prefixes-cell' }),
        holds: h('td', { class: 'holds-cell' }),
        seen: h('td', { class: 'seen-cell' }),
        summary: h('td', { class: 'summary-cell' }),
      };
      const tr = h(
        'tr',
        { 'data-site': site.name },
        h('th', { scope: 'row', class: 'site-cell' }, link, place),
        cells.state,
        cells.nodes,
        cells.prefixes,
        cells.holds,
        cells.seen,
        cells.summary,
      );
      row = { tr, ...cells, key: '', search: '' };
      this.rows.set(site.name, row);
    }
    return row;
  }

  private updateRow(row: Row, site: SiteStatus, view: SiteView, now: number): void {
    setText(row.seen, formatCoarseAgo(view.lastSeenAt, now));
    const key = JSON.stringify([
      view.state,
      view.summary,
      view.announcingNodes,
      view.announcingPrefixes,
      [...view.nodes].map(([n, v]) => [n, v.state, v.detail]),
      site.holds,
    ]);
    if (key === row.key) return;
    row.key = key;
    row.search = [
      site.name,
      site.region,
      site.location.label ?? '',
      ...site.nodes.map((n) => n.name),
      ...site.holds.flatMap((hd) => [hd.owner, hd.reason, hd.drainId]),
      STATE_LABELS[view.state],
    ]
      .join(' ')
      .toLowerCase();
    setAttr(row.tr, 'data-state', view.state);
    setAttr(row.tr, 'class', `state-row-${view.state}`);
    replaceChildren(
      row.state,
      stateLabel(view.state),
      view.degraded
        ? h('span', { class: 'degraded', title: 'Not every node is in this state' }, ' (partly)')
        : null,
    );
    replaceChildren(
      row.nodes,
      h('span', { class: 'node-count' }, `${view.announcingNodes}/${site.nodes.length}`),
      h(
        'span',
        { class: 'node-icons' },
        [...view.nodes].map(([name, node]) =>
          h(
            'span',
            { class: 'node-icon', title: `${name}: ${STATE_LABELS[node.state]} — ${node.detail}` },
            stateDot(node.state),
          ),
        ),
      ),
    );
    const allPrefixes = [...new Set(site.nodes.flatMap((n) => n.prefixes.map((p) => p.prefix)))];
    setText(
      row.prefixes,
      allPrefixes.length ? `${view.announcingPrefixes.length}/${allPrefixes.length}` : '—',
    );
    replaceChildren(
      row.holds,
      site.holds.length
        ? site.holds.map((hold) =>
            h(
              'div',
              { class: `hold${hold.overdue ? ' overdue' : ''}` },
              hold.overdue ? h('strong', { class: 'flag' }, '⏰ overdue ') : null,
              `${hold.owner}: ${hold.reason}`,
              hold.node ? h('span', { class: 'muted' }, ` (node ${hold.node})`) : null,
              hold.complete
                ? h('span', { class: 'muted' }, ' ✓ complete')
                : h('span', { class: 'muted' }, ' … in progress'),
            ),
          )
        : h('span', { class: 'muted' }, '—'),
    );
    setText(row.summary, view.summary);
  }
}

/** Puts `wanted` as the children of `parent`, in order, moving only what is out of place. */
function syncChildren(parent: Element, wanted: Element[]): void {
  wanted.forEach((child, index) => {
    if (parent.children[index] !== child) parent.insertBefore(child, parent.children[index] ?? null);
  });
  while (parent.children.length > wanted.length) parent.lastElementChild!.remove();
}
