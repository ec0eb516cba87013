/**
 * A banner while the coordinator is in panic mode (docs/panic-mode.md): since when, the share of
 * sites passing every check, and which nodes announce only because panic ignores a failing
 * fail-open check. Uses the page's existing `.banner` style; hidden when there is no panic.
 */
import { formatDateTime } from '../../shared/format.js';
import type { DashboardState } from '../model/dashboard-state.js';
import { h, replaceChildren } from '../dom.js';

export class PanicBanner {
  private lastKey = '';

  constructor(readonly element: HTMLElement) {
    element.classList.add('banner', 'panic-banner');
    element.setAttribute('data-testid', 'panic-banner');
    element.hidden = true;
  }

  render(state: DashboardState): void {
    const panic = state.fleet?.panic;
    const key = panic?.active
      ? JSON.stringify([panic.since, panic.healthySites, panic.reportingSites, panic.ignoring])
      : '';
    if (key === this.lastKey) return;
    this.lastKey = key;
    if (!panic?.active) {
      this.element.replaceChildren();
      this.element.hidden = true;
      return;
    }
    const kept = panic.ignoring.map((n) => `${n.node} (${n.checks.join(', ')})`).join(', ');
    replaceChildren(
      this.element,
      h('span', { class: 'banner-icon', 'aria-hidden': 'true' }, '⚠'),
      h(
        'span',
        { role: 'alert', class: 'banner-message' },
        `PANIC MODE since ${panic.since === null ? '?' : formatDateTime(panic.since)}: ` +
          `${panic.healthySites} of ${panic.reportingSites} reporting sites pass every check. ` +
          'Failing fail-open checks are ignored on nodes whose proxy still answers' +
          (kept ? `; kept announcing by panic: ${kept}.` : '.'),
      ),
      h('span', { class: 'banner-countdown' }, panic.reason ?? ''),
    );
    this.element.hidden = false;
  }
}
