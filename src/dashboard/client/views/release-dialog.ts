/**
 * Releasing a hold (undrain) from the page: says whose hold it is and what else still holds
 * the site, takes an optional reason, and asks the coordinator to release exactly this drain.
 */
import { drainViewSchema, type DrainView } from '../../../wire/coordinator-api.js';
import type { ApiClient } from '../net/api-client.js';
import { h, replaceChildren } from '../dom.js';
import { describeDrainTarget } from './drain-card.js';

export class ReleaseDialog {
  readonly element: HTMLDialogElement;
  private readonly body = h('div', { class: 'release-body' });
  private readonly reason = h('input', {
    id: 'release-reason',
    type: 'text',
    maxlength: 1000,
    autocomplete: 'off',
  });
  private readonly result = h('div', { 'aria-live': 'polite' });
  private readonly confirmButton = h(
    'button',
    { type: 'button', class: 'button danger', 'data-action': 'confirm-release' },
    'Release hold',
  );
  private drain: DrainView | null = null;

  constructor(
    private readonly api: ApiClient,
    private readonly currentUser: () => string | null,
    private readonly others: (drain: DrainView) => DrainView[],
    private readonly onReleased: (drain: DrainView) => void,
  ) {
    this.element = h(
      'dialog',
      { class: 'release-dialog', 'aria-labelledby': 'release-title' },
      h(
        'form',
        { method: 'dialog', class: 'dialog-form', novalidate: true },
        h('h2', { id: 'release-title' }, 'Release hold'),
        this.body,
        h('div', { class: 'field' }, h('label', { for: 'release-reason' }, 'Reason (optional)'), this.reason),
        this.result,
        h(
          'div',
          { class: 'dialog-buttons' },
          h(
            'button',
            { type: 'button', class: 'button subtle', onclick: () => this.element.close() },
            'Cancel',
          ),
          this.confirmButton,
        ),
      ),
    );
    this.element.querySelector('form')!.addEventListener('submit', (event) => event.preventDefault());
    this.confirmButton.addEventListener('click', () => void this.confirm());
  }

  open(drain: DrainView): void {
    this.drain = drain;
    this.reason.value = '';
    this.result.replaceChildren();
    const others = this.others(drain);
    const mine = this.currentUser() === drain.owner;
    replaceChildren(
      this.body,
      h(
        'p',
        {},
        `Release ${drain.id} on ${describeDrainTarget(drain)}: “${drain.reason}” by ${drain.owner}.`,
      ),
      mine ? null : h('p', { class: 'warn-text' }, `⚠ This hold belongs to ${drain.owner}, not to you.`),
      others.length
        ? h(
            'p',
            { class: 'warn-text' },
            `The site stays drained by ${others.map((d) => `${d.id} (${d.owner})`).join(', ')} until those are released too.`,
          )
        : h('p', {}, 'Once released, each node announces again after its health checks pass.'),
    );
    this.element.showModal();
    this.reason.focus();
  }

  private async confirm(): Promise<void> {
    if (!this.drain) return;
    this.confirmButton.disabled = true;
    try {
      const reason = this.reason.value.trim();
      const released = await this.api.post(
        `/api/v1/drains/${encodeURIComponent(this.drain.id)}/release`,
        reason ? { reason } : {},
        drainViewSchema,
      );
      this.element.close();
      this.onReleased(released);
    } catch (error) {
      replaceChildren(
        this.result,
        h('p', { class: 'alarm-text' }, `✕ ${error instanceof Error ? error.message : String(error)}`),
      );
    } finally {
      this.confirmButton.disabled = false;
    }
  }
}
