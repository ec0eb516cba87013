/**
 * Starting a drain from the page: a reason is required; "Check" asks the coordinator for a dry
 * run and shows its verdict (every blocking rule, whether waiting helps, the nodes it applies
 * to, holds already on the site); only an allowed verdict for exactly what is in the form
 * enables "Drain now". Editing the form invalidates the verdict. A native <dialog>: focus is
 * trapped, Escape closes it.
 */
import { drainCreatedSchema, type DrainCreated, type DrainTarget } from '../../../wire/coordinator-api.js';
import { ApiError, type ApiClient } from '../net/api-client.js';
import { h, replaceChildren } from '../dom.js';
import { describeDrainTarget } from './drain-card.js';

const DEADLINES = [
  { label: 'No deadline', ms: 0 },
  { label: '30 minutes', ms: 1_800_000 },
  { label: '1 hour', ms: 3_600_000 },
  { label: '2 hours', ms: 7_200_000 },
  { label: '4 hours', ms: 14_400_000 },
  { label: '8 hours', ms: 28_800_000 },
];

export class DrainDialog {
  readonly element: HTMLDialogElement;
  private readonly title = h('h2', { id: 'drain-dialog-title' });
  private readonly prefixSelect = h('select', { id: 'drain-prefix', name: 'prefix' });
  private readonly reason = h('textarea', {
    id: 'drain-reason',
    name: 'reason',
    rows: 3,
    required: true,
    minlength: 3,
    maxlength: 1000,
    'aria-describedby': 'drain-reason-help',
  });
  private readonly reasonHelp = h(
    'p',
    { id: 'drain-reason-help', class: 'help' },
    'Required: why, so the next person knows (at least 3 characters).',
  );
  private readonly ticket = h('input', {
    id: 'drain-ticket',
    name: 'ticket',
    type: 'text',
    maxlength: 200,
    autocomplete: 'off',
  });
  private readonly deadline = h(
    'select',
    { id: 'drain-deadline', name: 'deadline' },
    DEADLINES.map((d, i) => h('option', { value: String(i) }, d.label)),
  );
  private readonly verdict = h('div', {
    class: 'verdict',
    'aria-live': 'polite',
    'data-testid': 'dry-run-verdict',
  });
  private readonly checkButton = h(
    'button',
    { type: 'button', class: 'button', 'data-action': 'dry-run' },
    'Check (dry run)',
  );
  private readonly confirmButton = h(
    'button',
    { type: 'button', class: 'button primary', disabled: true, 'data-action': 'confirm-drain' },
    'Drain now',
  );
  private target: DrainTarget = { site: '' };
  /** The request the last allowed dry run was for; the form must still say exactly this. */
  private checked: string | null = null;
  private busy = false;

  constructor(
    private readonly api: ApiClient,
    private readonly onStarted: (created: DrainCreated) => void,
  ) {
    const form = h(
      'form',
      { method: 'dialog', class: 'dialog-form', novalidate: true },
      this.title,
      h('div', { class: 'field' }, h('label', { for: 'drain-prefix' }, 'Prefixes'), this.prefixSelect),
      h(
        'div',
        { class: 'field' },
        h('label', { for: 'drain-reason' }, 'Reason'),
        this.reason,
        this.reasonHelp,
      ),
      h(
        'div',
        { class: 'field-row' },
        h('div', { class: 'field' }, h('label', { for: 'drain-ticket' }, 'Ticket (optional)'), this.ticket),
        h('div', { class: 'field' }, h('label', { for: 'drain-deadline' }, 'Deadline'), this.deadline),
      ),
      this.verdict,
      h(
        'div',
        { class: 'dialog-buttons' },
        h(
          'button',
          {
            type: 'button',
            class: 'button subtle',
            'data-action': 'cancel',
            onclick: () => this.element.close(),
          },
          'Cancel',
        ),
        this.checkButton,
        this.confirmButton,
      ),
    );
    this.element = h('dialog', { class: 'drain-dialog', 'aria-labelledby': 'drain-dialog-title' }, form);
    form.addEventListener('submit', (event) => event.preventDefault());
    for (const field of [this.reason, this.ticket, this.deadline, this.prefixSelect])
      field.addEventListener('input', () => this.invalidate());
    this.checkButton.addEventListener('click', () => void this.dryRun());
    this.confirmButton.addEventListener('click', () => void this.confirm());
  }

  open(target: DrainTarget, prefixes: readonly string[]): void {
    this.target = target;
    this.title.textContent = `Drain ${describeDrainTarget({ target })}`;
    replaceChildren(
      this.prefixSelect,
      h('option', { value: '' }, 'Every prefix'),
      prefixes.map((p) => h('option', { value: p }, p)),
    );
    this.reason.value = '';
    this.ticket.value = '';
    this.deadline.value = '0';
    this.reason.removeAttribute('aria-invalid');
    this.reasonHelp.classList.remove('error');
    this.invalidate();
    replaceChildren(
      this.verdict,
      h('p', { class: 'muted' }, 'Give a reason, then check what the safety policy says before draining.'),
    );
    this.element.showModal();
    this.reason.focus();
  }

  private request(dryRun: boolean): Record<string, unknown> {
    const deadline = DEADLINES[Number(this.deadline.value)]?.ms ?? 0;
    return {
      site: this.target.site,
      ...(this.target.node ? { node: this.target.node } : {}),
      ...(this.prefixSelect.value ? { prefix: this.prefixSelect.value } : {}),
      reason: this.reason.value.trim(),
      ...(this.ticket.value.trim() ? { ticket: this.ticket.value.trim() } : {}),
      ...(deadline ? { deadline: Date.now() + deadline } : {}),
      dryRun,
    };
  }

  /** What the verdict is about (the deadline's absolute time moves; its choice does not). */
  private formKey(): string {
    return JSON.stringify([
      this.target,
      this.prefixSelect.value,
      this.reason.value.trim(),
      this.ticket.value.trim(),
      this.deadline.value,
    ]);
  }

  private invalidate(): void {
    if (this.checked !== null && this.checked !== this.formKey()) {
      this.checked = null;
      replaceChildren(this.verdict, h('p', { class: 'muted' }, 'The form changed: check again.'));
    }
    this.confirmButton.disabled = this.checked === null || this.busy;
  }

  private validReason(): boolean {
    const ok = this.reason.value.trim().length >= 3;
    if (ok) this.reason.removeAttribute('aria-invalid');
    else this.reason.setAttribute('aria-invalid', 'true');
    this.reasonHelp.classList.toggle('error', !ok);
    this.reasonHelp.textContent = ok
      ? 'Required: why, so the next person knows (at least 3 characters).'
      : '✕ A reason of at least 3 characters is required.';
    if (!ok) this.reason.focus();
    return ok;
  }

  private setBusy(busy: boolean): void {
    this.busy = busy;
    this.checkButton.disabled = busy;
    this.confirmButton.disabled = busy || this.checked === null;
  }

  private async dryRun(): Promise<void> {
    if (!this.validReason()) return;
    const key = this.formKey();
    this.setBusy(true);
    replaceChildren(this.verdict, h('p', { class: 'muted' }, 'Asking the coordinator…'));
    try {
      const result = await this.api.post('/api/v1/drains', this.request(true), drainCreatedSchema);
      this.checked = result.evaluation.allowed && key === this.formKey() ? key : null;
      replaceChildren(this.verdict, this.renderVerdict(result));
    } catch (error) {
      this.checked = null;
      replaceChildren(this.verdict, this.renderError(error));
    } finally {
      this.setBusy(false);
    }
  }

  private async confirm(): Promise<void> {
    if (this.checked === null || this.checked !== this.formKey() || !this.validReason()) return;
    this.setBusy(true);
    try {
      const created = await this.api.post('/api/v1/drains', this.request(false), drainCreatedSchema);
      this.element.close();
      this.onStarted(created);
    } catch (error) {
      this.checked = null;
      replaceChildren(
        this.verdict,
        h('p', { class: 'alarm-text' }, 'The drain was not started.'),
        this.renderError(error),
      );
    } finally {
      this.setBusy(false);
    }
  }

  private renderVerdict(result: DrainCreated): HTMLElement {
    const { evaluation } = result;
    const blocking = evaluation.violations.filter((v) => v.overridden === undefined);
    return h(
      'div',
      {
        class: `verdict-body ${evaluation.allowed ? 'allowed' : 'blocked'}`,
        'data-allowed': String(evaluation.allowed),
      },
      h(
        'p',
        { class: 'verdict-headline' },
        evaluation.allowed
          ? '✓ Allowed: the safety policy permits this drain.'
          : `✕ Blocked by ${blocking.length === 1 ? 'a rule' : `${blocking.length} rules`} of the safety policy.`,
      ),
      blocking.length
        ? h(
            'ul',
            { class: 'violations' },
            blocking.map((v) =>
              h(
                'li',
                { 'data-rule': v.rule },
                h('strong', {}, v.rule),
                `: ${v.message} `,
                /waiting/i.test(v.message)
                  ? null
                  : h(
                      'span',
                      { class: 'muted' },
                      v.retryable ? '(waiting could help)' : '(waiting will not help)',
                    ),
              ),
            ),
          )
        : null,
      h(
        'p',
        {},
        `Applies to ${result.nodes.length === 1 ? 'node' : 'nodes'}: ${result.nodes.join(', ') || 'none'}.`,
      ),
      result.otherHolds.length
        ? h(
            'p',
            { class: 'warn-text' },
            `Already held by: ${result.otherHolds.map((o) => `${o.id} (${o.owner}: ${o.reason})`).join('; ')}. Holds stack: the site returns only when every hold is released.`,
          )
        : null,
      evaluation.allowed
        ? h(
            'p',
            { class: 'muted' },
            'Nothing has changed yet. “Drain now” starts it: graceful shutdown first, then withdraw.',
          )
        : h('p', { class: 'muted' }, 'Overrides need a reason per rule and are only available from the CLI.'),
    );
  }

  private renderError(error: unknown): HTMLElement {
    if (error instanceof ApiError && error.body) {
      return h(
        'div',
        { class: 'verdict-body blocked' },
        h('p', { class: 'verdict-headline' }, `✕ ${error.body.message}`),
        error.body.rules?.length
          ? h(
              'ul',
              { class: 'violations' },
              error.body.rules.map((v) =>
                h('li', { 'data-rule': v.rule }, h('strong', {}, v.rule), `: ${v.message}`),
              ),
            )
          : null,
        error.body.problems?.length
          ? h(
              'ul',
              {},
              error.body.problems.map((p) => h('li', {}, p)),
            )
          : null,
      );
    }
    return h('p', { class: 'alarm-text' }, `✕ ${error instanceof Error ? error.message : String(error)}`);
  }
}
