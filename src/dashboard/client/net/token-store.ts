/**
 * The operator's or viewer's bearer token, kept in sessionStorage: it lives as long as the tab,
 * never in the page's files, a cookie or the URL.
 */
const KEY = 'herald.token';

export function loadToken(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function saveToken(token: string): void {
  sessionStorage.setItem(KEY, token);
}

export function clearToken(): void {
  sessionStorage.removeItem(KEY);
}
