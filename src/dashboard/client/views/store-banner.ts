/**
 * A banner while the coordinator replica serving this page cannot reach its store (etcd lost
 * quorum, a disk full): since when, the fault, and what it means for the operator — changes are
 * refused until the store answers, while agents keep announcing on local health and keep the
 * drains they hold. Uses the page's `.banner` style; hidden while the store answers.
 */
import { formatDateTime } from '../../shared/format.js';
import type { DashboardState } from '../model/dashboard-state.js';
import { h, replaceChildren } from '../dom.js';

export class StoreBanner {
  private lastKey = '';

  constructor(readonly element: HTMLElement) {
    element.classList.add('banner', 'store-banner');
    element.setAttribute('data-testid', 'store-banner');
    element.hidden = true;
  }

  render(state: DashboardState): void {
    const store = state.fleet?.store;
    const key = store && !store.reachable ? JSON.stringify([store.since, store.fault]) : '';
    if (key === this.lastKey) return;
    this.lastKey = key;
    if (!store || store.reachable) {
      this.element.replaceChildren();
      this.element.hidden = true;
      return;
    }
    replaceChildren(
      this.element,
      h('span', { class: 'banner-icon', 'aria-hidden': 'true' }, '⚠'),
      h(
        'span',
        { role: 'alert', class: 'banner-message' },
        `STORE UNREACHABLE since ${formatDateTime(store.since)}: this coordinator cannot reach its ${store.engine} store ` +
          `(${store.fault ?? 'unknown fault'}). Drains, releases and windows are refused until it answers; ` +
          'agents keep announcing on local health and keep the drains they hold.',
      ),
      h('span', { class: 'banner-countdown' }, store.detail ?? ''),
    );
    this.element.hidden = false;
  }
}
