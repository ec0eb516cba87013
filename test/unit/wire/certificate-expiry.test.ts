/**
 * The certificate expiry's unit is pinned: the wire field is Unix seconds, the schema refuses
 * Unix milliseconds naming the field, and the days every reader shows come from one function.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  certNotAfterUnixSeconds,
  checkStatusSchema,
  type CheckStatus,
} from '../../../src/wire/agent-status.js';
import { CERT_WARN_DAYS, certificateExpiry } from '../../../src/wire/certificate-expiry.js';

const NOW_MS = Date.UTC(2026, 11, 5, 12, 0, 0);
const NOW_S = NOW_MS / 1000;
const DAY = 86_400;

function tlsCheck(extra: Record<string, unknown>): unknown {
  return {
    name: 'sip-tls',
    type: 'sip-options',
    transport: 'tls',
    status: 'up',
    detail: '200 OK',
    durationMs: 3,
    at: NOW_MS,
    answered: true,
    failOpen: false,
    ...extra,
  };
}

test('the wire field takes Unix seconds and refuses Unix milliseconds, naming the field', () => {
  const seconds = checkStatusSchema.parse(tlsCheck({ certNotAfterUnixSeconds: NOW_S + 30 * DAY }));
  assert.equal(certNotAfterUnixSeconds(seconds), NOW_S + 30 * DAY);
  const millis = checkStatusSchema.safeParse(tlsCheck({ certNotAfterUnixSeconds: NOW_MS + 30 * DAY * 1000 }));
  assert.equal(millis.success, false);
  const issue = millis.error!.issues[0]!;
  assert.deepEqual(issue.path, ['certNotAfterUnixSeconds']);
  assert.match(issue.message, /Unix seconds.*milliseconds/);
  // A "never expires" certificate (9999-12-31T23:59:59Z) is still seconds and passes.
  assert.equal(
    checkStatusSchema.safeParse(tlsCheck({ certNotAfterUnixSeconds: 253_402_300_799 })).success,
    true,
  );
});

test("an old agent's certEarliestExpiry (always Unix seconds) is still read while agents upgrade", () => {
  const old = checkStatusSchema.parse(tlsCheck({ certEarliestExpiry: NOW_S + 5 * DAY }));
  assert.equal(certNotAfterUnixSeconds(old), NOW_S + 5 * DAY);
  assert.equal(checkStatusSchema.safeParse(tlsCheck({ certEarliestExpiry: NOW_MS })).success, false);
  const plain: CheckStatus = checkStatusSchema.parse(tlsCheck({}));
  assert.equal(certNotAfterUnixSeconds(plain), undefined);
});

test('days left, warning within 20 days, alarm once expired', () => {
  assert.deepEqual(certificateExpiry(NOW_S + 64 * DAY + 3600, NOW_MS), {
    daysLeft: 64,
    urgency: 'ok',
    text: '64 d left',
    date: '2027-02-07',
  });
  assert.equal(certificateExpiry(NOW_S + (CERT_WARN_DAYS + 1) * DAY + 60, NOW_MS).urgency, 'ok');
  assert.equal(certificateExpiry(NOW_S + CERT_WARN_DAYS * DAY + 60, NOW_MS).urgency, 'warn');
  assert.equal(certificateExpiry(NOW_S + 3600, NOW_MS).text, 'expires today');
  assert.equal(certificateExpiry(NOW_S + 3600, NOW_MS).urgency, 'warn');
  assert.equal(certificateExpiry(NOW_S, NOW_MS).urgency, 'alarm');
  assert.equal(certificateExpiry(NOW_S - 60, NOW_MS).text, 'expired today');
  const expired = certificateExpiry(NOW_S - 3 * DAY - 60, NOW_MS);
  assert.equal(expired.urgency, 'alarm');
  assert.equal(expired.text, 'expired 3 d ago');
  assert.equal(expired.daysLeft, -4);
});
