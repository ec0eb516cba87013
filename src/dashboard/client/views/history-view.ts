/**
 * History: the announce state of every site over recent hours (sites that changed first; the
 * ones announcing throughout folded into one line unless asked), and the audit trail as a
 * timeline (who did what, to what, why), filterable.
 */
import type { AuditEntry } from '../../../wire/coordinator-api.js';
import { formatAgo, formatClock, formatDateTime } from '../../shared/format.js';
import type { DashboardState } from '../model/dashboard-state.js';
import { ageText, h, refreshAges, renderKeepingFocus, replaceChildren } from '../dom.js';
import { DISPLAY_STATES, STATE_LABELS } from '../../shared/site-state.js';
import { stateStrip, timeAxis } from './state-timeline.js';

const WINDOWS = [
  { label: '15 min', ms: 900_000 },
  { label: '1 h', ms: 3_600_000 },
  { label: '3 h', ms: 3 * 3_600_000 },
  { label: '6 h', ms: 6 * 3_600_000 },
];

function describeAudit(entry: AuditEntry): string {
  const details = Object.entries(entry.details)
    .filter(([, v]) => v !== null && v !== undefined && typeof v !== 'object')
    .map(([k, v]) => `${k}: ${String(v)}`)
    .join(', ');
  return details;
}

export class HistoryView {
  readonly element: HTMLElement;
  private readonly timeline = h('div', { class: 'timeline-holder' });
  private readonly auditList = h('div', { class: 'audit-list' });
  private readonly auditInput: HTMLInputElement;
  private windowMs = 3_600_000;
  private showSteady = false;
  private auditFilter = '';
  private lastKey = '';
  private lastState: DashboardState | null = null;

  constructor() {
    // Built once, so typing in the filter is never disturbed by live re-renders.
    this.auditInput = h('input', {
      type: 'search',
      placeholder: 'Filter: actor, action, site, reason…',
      'aria-label': 'Filter the audit trail',
    });
    this.auditInput.addEventListener('input', () => {
      this.auditFilter = this.auditInput.value.trim().toLowerCase();
      this.rerender();
    });
    this.element = h(
      'section',
      { class: 'history-view', 'aria-label': 'History' },
      this.timeline,
      h(
        'section',
        { class: 'audit' },
        h('div', { class: 'section-head' }, h('h2', {}, 'Audit trail'), this.auditInput),
        this.auditList,
      ),
    );
  }

  render(state: DashboardState): void {
    this.lastState = state;
    const now = state.now();
    const minute = Math.floor(now / 30_000);
    const key = JSON.stringify([
      state.states?.generatedAt,
      state.audit.length,
      state.audit[0]?.id,
      this.windowMs,
      this.showSteady,
      this.auditFilter,
      minute,
      state.historyAvailable,
    ]);
    if (key === this.lastKey) {
      refreshAges(this.element, now);
      return;
    }
    this.lastKey = key;
    renderKeepingFocus(this.timeline, () => replaceChildren(this.timeline, this.timelineSection(state, now)));
    replaceChildren(this.auditList, this.auditEntries(state, now));
  }

  private rerender(): void {
    this.lastKey = '';
    if (this.lastState) this.render(this.lastState);
  }

  private timelineSection(state: DashboardState, now: number): HTMLElement {
    const heading = h('h2', {}, 'Announce state per site');
    const buttons = h(
      'div',
      { class: 'segmented', role: 'group', 'aria-label': 'Time range' },
      WINDOWS.map((w) =>
        h(
          'button',
          {
            type: 'button',
            class: 'toggle',
            'aria-pressed': String(w.ms === this.windowMs),
            'data-focus-key': `range-${w.label}`,
            onclick: () => ((this.windowMs = w.ms), this.rerender()),
          },
          w.label,
        ),
      ),
    );
    const history = state.states;
    if (!history || !state.fleet)
      return h(
        'section',
        { class: 'timeline-chart' },
        heading,
        h(
          'p',
          { class: 'muted' },
          state.historyAvailable === false ? 'This coordinator does not record state history.' : 'Loading…',
        ),
      );
    const windowMs = Math.min(this.windowMs, history.windowMs);
    const start = now - windowMs;
    const rows: HTMLElement[] = [];
    let steady = 0;
    const regions = [...new Set(state.fleet.sites.map((s) => s.region))].sort();
    for (const region of regions) {
      const sites = state.fleet.sites
        .filter((s) => s.region === region)
        .sort((a, b) => a.name.localeCompare(b.name));
      const regionRows: HTMLElement[] = [];
      for (const site of sites) {
        const changes = history.sites[site.name] ?? [];
        const changedInWindow = changes.filter((c) => c[0] > start).length > 0;
        const current = changes[changes.length - 1]?.[1];
        const isSteady = !changedInWindow && current === 'announcing' && history.since <= start;
        if (isSteady) steady++;
        if (isSteady && !this.showSteady) continue;
        regionRows.push(
          h(
            'div',
            { class: 'strip-row', 'data-site': site.name },
            h('a', { href: `#/site/${encodeURIComponent(site.name)}`, class: 'strip-label' }, site.name),
            stateStrip(changes, history, now, 'row', windowMs),
          ),
        );
      }
      if (regionRows.length)
        rows.push(h('div', { class: 'strip-region' }, h('h3', {}, region)), ...regionRows);
    }
    const steadyToggle = h(
      'button',
      {
        type: 'button',
        class: 'link-button',
        'data-focus-key': 'steady',
        onclick: () => ((this.showSteady = !this.showSteady), this.rerender()),
      },
      this.showSteady
        ? 'Hide sites that announced throughout'
        : `Show ${steady} sites that announced throughout`,
    );
    return h(
      'section',
      { class: 'timeline-chart' },
      h('div', { class: 'section-head' }, heading, buttons),
      history.since > start
        ? h(
            'p',
            { class: 'muted' },
            `Recorded since ${formatDateTime(history.since)} (the coordinator started then); earlier time is shown as not recorded.`,
          )
        : null,
      h(
        'ul',
        { class: 'legend', 'aria-label': 'Legend' },
        DISPLAY_STATES.map((st) => h('li', {}, h('span', { class: `swatch fill-${st}` }), STATE_LABELS[st])),
        h('li', {}, h('span', { class: 'swatch fill-unknown' }), 'Not recorded'),
      ),
      rows.length
        ? h(
            'div',
            { class: 'strips' },
            rows,
            h('div', { class: 'strip-row' }, h('span', { class: 'strip-label' }), timeAxis(now, windowMs)),
          )
        : h('p', {}, 'Every site announced throughout.'),
      steady || this.showSteady ? steadyToggle : null,
    );
  }

  private auditEntries(state: DashboardState, now: number): HTMLElement {
    const entries = state.audit
      .filter((e) => !this.auditFilter || JSON.stringify(e).toLowerCase().includes(this.auditFilter))
      .slice(0, 200);
    return entries.length
      ? h(
          'ol',
          { class: 'timeline', 'aria-label': 'Audit entries, newest first' },
          entries.map((e) =>
            h(
              'li',
              { class: `audit-entry action-${e.action.replace(/[^a-z0-9]+/gi, '-')}` },
              h(
                'time',
                { datetime: new Date(e.at).toISOString(), title: formatDateTime(e.at) },
                formatClock(e.at),
              ),
              h('span', { class: 'muted' }, ' (', ageText(e.at, formatAgo, now), ') '),
              h('strong', {}, e.actor),
              ` ${e.action} `,
              h('span', { class: 'audit-target' }, e.target),
              e.reason ? h('span', { class: 'audit-reason' }, ` — “${e.reason}”`) : null,
              describeAudit(e) ? h('div', { class: 'muted audit-details' }, describeAudit(e)) : null,
            ),
          ),
        )
      : h('p', { class: 'muted' }, state.auditLoaded ? 'No audit entries.' : 'Loading…');
  }
}
