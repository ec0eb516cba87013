/**
 * Entry point of the dashboard page: sign in (token kept in sessionStorage), then start the app.
 * A refused token brings the sign-in form back with the reason.
 */
import { ApiClient } from './net/api-client.js';
import { clearToken, loadToken, saveToken } from './net/token-store.js';
import { startApp } from './app.js';
import { replaceChildren } from './dom.js';
import { signInForm } from './views/sign-in.js';

const root = document.getElementById('app')!;
let stopApp: (() => void) | null = null;

function signOut(reason: string | null): void {
  stopApp?.();
  stopApp = null;
  clearToken();
  document.body.className = '';
  replaceChildren(root, signInForm(reason, signIn));
}

function signIn(token: string): void {
  saveToken(token);
  const api = new ApiClient({
    token,
    onUnauthorized: () => signOut('The coordinator no longer accepts this token. Sign in again.'),
  });
  stopApp = startApp(root, api, signOut);
}

const token = loadToken();
if (token) signIn(token);
else replaceChildren(root, signInForm(null, signIn));
