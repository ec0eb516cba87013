/**
 * The live indicator in the header and, whenever the page is not live, a banner that says so
 * and since when: "Connection lost — reconnecting in 3 s. What you see is from 14:02:31." The
 * body gets the `not-live` class so every panel is visibly greyed and marked as old.
 */
import { formatClock, formatSpan } from '../../shared/format.js';
import type { DashboardState } from '../model/dashboard-state.js';
import { h, replaceChildren, setText } from '../dom.js';

export class ConnectionStatus {
  private lastBanner = '';

  constructor(
    private readonly indicator: HTMLElement,
    private readonly banner: HTMLElement,
  ) {
    indicator.classList.add('connection');
    indicator.setAttribute('role', 'status');
    banner.classList.add('banner');
  }

  render(state: DashboardState): void {
    const live = state.isLive();
    const connection = state.connection;
    document.body.classList.toggle('not-live', !live);
    document.body.dataset['connection'] = live ? 'live' : connection.kind;
    const dataFrom = state.lastLiveAt !== null ? formatClock(state.lastLiveAt) : null;

    let label: string;
    let banner = '';
    let countdown = '';
    if (live) label = `● Live · updated ${formatClock(state.fleetReceivedAt)}`;
    else if (connection.kind === 'lost') {
      label = '⚠ Connection lost';
      banner = `Connection to the coordinator lost (${connection.reason}); reconnecting.`;
      countdown = `Next attempt in ${formatSpan(Math.max(0, connection.retryAt - Date.now()) + 999)}.`;
    } else if (connection.kind === 'stopped') {
      label = '✕ Not connected';
      banner = `Not connected: ${connection.reason}.`;
    } else {
      label = state.lastLiveAt === null ? '… Connecting' : '⟳ Reconnecting';
      if (state.lastLiveAt !== null) banner = 'Connection to the coordinator lost; reconnecting.';
    }
    if (banner && dataFrom) banner += ` The data below is from ${dataFrom} and may be out of date.`;
    for (const [what, message] of state.loadErrors)
      banner += `${banner ? ' ' : ''}Could not load ${what}: ${message}.`;

    setText(this.indicator, label);
    this.indicator.dataset['state'] = live ? 'live' : connection.kind;
    document.title = `${live ? '' : '⚠ '}herald · ${state.headroom ? `${state.headroom.announcingSites}/${state.headroom.totalSites} announcing` : 'anycast status'}`;
    if (banner !== this.lastBanner) {
      this.lastBanner = banner;
      // The message is the alert; the countdown beside it changes every second and is not announced.
      if (banner)
        replaceChildren(
          this.banner,
          h('span', { class: 'banner-icon', 'aria-hidden': 'true' }, '⚠'),
          h('span', { role: 'alert', class: 'banner-message' }, banner),
          h('span', { class: 'banner-countdown' }),
        );
      else this.banner.replaceChildren();
      this.banner.hidden = !banner;
    }
    const countdownElement = this.banner.querySelector('.banner-countdown');
    if (countdownElement) setText(countdownElement, countdown);
  }
}
