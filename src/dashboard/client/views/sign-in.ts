/**
 * Asks for a bearer token (viewer or operator) and checks it with the coordinator before
 * keeping it for this tab. The page itself is public and holds no secret.
 */
import { DASHBOARD_API, sessionSchema } from '../../shared/dashboard-api.js';
import { ApiClient, ApiError } from '../net/api-client.js';
import { h } from '../dom.js';

export function signInForm(reason: string | null, onToken: (token: string) => void): HTMLElement {
  const input = h('input', {
    id: 'token',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
    'aria-describedby': 'token-help',
  });
  const message = h(
    'p',
    { id: 'token-help', class: reason ? 'alarm-text' : 'help', role: reason ? 'alert' : null },
    reason ?? 'A viewer token shows the fleet; an operator token can also drain and undrain.',
  );
  const button = h('button', { type: 'submit', class: 'button primary' }, 'Sign in');
  const form = h(
    'form',
    { class: 'sign-in', 'aria-labelledby': 'sign-in-title' },
    h('h1', { id: 'sign-in-title' }, 'herald · anycast status'),
    h('label', { for: 'token' }, 'Coordinator token'),
    input,
    message,
    button,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) {
      message.textContent = '✕ Paste your token first.';
      return;
    }
    button.disabled = true;
    message.className = 'help';
    message.textContent = 'Checking the token…';
    new ApiClient({ token })
      .get(`${DASHBOARD_API}/session`, sessionSchema)
      .then(() => onToken(token))
      .catch((error: unknown) => {
        if (error instanceof ApiError && error.status === 404) return onToken(token); // older coordinator: no session endpoint
        message.className = 'alarm-text';
        message.setAttribute('role', 'alert');
        message.textContent =
          error instanceof ApiError && error.status === 401
            ? '✕ The coordinator does not know this token.'
            : `✕ ${error instanceof Error ? error.message : String(error)}`;
        button.disabled = false;
        input.focus();
      });
  });
  queueMicrotask(() => input.focus());
  return h('main', { class: 'sign-in-page' }, form);
}
