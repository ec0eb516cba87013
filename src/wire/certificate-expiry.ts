/**
 * Certificate expiry as every reader shows it (the dashboard's node card, `herald status`):
 * days left from a notAfter in Unix SECONDS, and how urgent that is. One pure function so the
 * page and the CLI can never disagree on the unit, the rounding or the thresholds.
 */

/** A certificate this close to its notAfter (or closer) is a warning. */
export const CERT_WARN_DAYS = 20;

const DAY_SECONDS = 86_400;

export type CertificateUrgency = 'ok' | 'warn' | 'alarm';

export interface CertificateExpiry {
  /** Whole days left, rounded down; negative once expired. */
  daysLeft: number;
  /** alarm: expired; warn: expires within CERT_WARN_DAYS days; ok otherwise. */
  urgency: CertificateUrgency;
  /** "12 d left", "expires today", "expired 3 d ago", "expired today". */
  text: string;
  /** notAfter as an ISO date, "2026-12-31". */
  date: string;
}

/** Judges a notAfter given in Unix seconds against `nowMs` (Unix milliseconds). */
export function certificateExpiry(notAfterUnixSeconds: number, nowMs: number): CertificateExpiry {
  const secondsLeft = notAfterUnixSeconds - nowMs / 1000;
  const daysLeft = Math.floor(secondsLeft / DAY_SECONDS);
  const date = new Date(notAfterUnixSeconds * 1000).toISOString().slice(0, 10);
  if (secondsLeft <= 0) {
    const daysAgo = Math.floor(-secondsLeft / DAY_SECONDS);
    return { daysLeft, urgency: 'alarm', text: daysAgo ? `expired ${daysAgo} d ago` : 'expired today', date };
  }
  return {
    daysLeft,
    urgency: daysLeft <= CERT_WARN_DAYS ? 'warn' : 'ok',
    text: daysLeft ? `${daysLeft} d left` : 'expires today',
    date,
  };
}
