/** `herald status` shows each TLS check's certificate days left, warning within 20 days, EXPIRED after. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { statusText } from '../../../src/cli/client/render.js';
import type { FleetStatus } from '../../../src/wire/coordinator-api.js';
import { nodeStatus, siteStatus } from '../dashboard/support/fleet-documents.js';

const NOW_MS = Date.UTC(2026, 11, 5, 12, 0, 0);
const DAY = 86_400;

function fleet(certificates: { check: string; days: number }[]): FleetStatus {
  const node = {
    ...nodeStatus('lon1-a'),
    certificates: certificates.map((c) => ({
      check: c.check,
      status: c.days < 0 ? 'down' : 'up',
      notAfterUnixSeconds: NOW_MS / 1000 + c.days * DAY + 60,
    })),
  };
  return {
    announcingSites: 1,
    sites: [siteStatus('lon1', 'eu', [node])],
    policy: { minAnnouncingSites: 1, maxConcurrentDrains: 1, regionFloor: false },
  } as unknown as FleetStatus;
}

test('every TLS check gets a line with its days left and notAfter date', () => {
  const text = statusText(
    fleet([
      { check: 'sip-tls', days: 64 },
      { check: 'turn-tls', days: 90 },
    ]),
    NOW_MS,
  );
  assert.match(text, /^ {4}cert sip-tls: 64 d left \(notAfter 2027-02-07\)$/m);
  assert.match(text, /^ {4}cert turn-tls: 90 d left/m);
});

test('within 20 days is a WARNING, an expired certificate says EXPIRED', () => {
  const text = statusText(
    fleet([
      { check: 'soon', days: 20 },
      { check: 'gone', days: -4 },
    ]),
    NOW_MS,
  );
  assert.match(text, /cert soon: WARNING: 20 d left/);
  assert.match(text, /cert gone: EXPIRED: expired 3 d ago/);
});

test('a node without TLS checks (or an older coordinator) prints no certificate line', () => {
  assert.doesNotMatch(statusText(fleet([]), NOW_MS), /cert /);
});
