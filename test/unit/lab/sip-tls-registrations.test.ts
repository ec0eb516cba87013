/**
 * The TLS registration clients' events folded into one session per connection, and read like
 * SIPp's: which connections broke, and how long each client went without a 200.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { openAt, reregistrations } from '../../../src/lab/registration-gaps.js';
import { applyTlsEvent, type TlsSession } from '../../../src/lab/sip-tls-registrations.js';
import type { TlsRegistrationEvent } from '../../../src/lab/sip-tls-registrations-types.js';

function fold(events: TlsRegistrationEvent[]): TlsSession[] {
  const sessions: TlsSession[] = [];
  for (const event of events) applyTlsEvent(sessions, event);
  return sessions;
}

describe('TLS registration sessions', () => {
  const events: TlsRegistrationEvent[] = [
    { type: 'connecting', client: 0, at: 0 },
    { type: 'connected', client: 0, at: 20, localPort: 40000 },
    { type: 'reply', client: 0, at: 30, code: 200, node: 'lon1-a' },
    { type: 'reply', client: 0, at: 330, code: 200, node: 'lon1-a' },
    { type: 'closed', client: 0, at: 640, reason: 'ECONNRESET: read ECONNRESET', byUs: false },
    // A reconnect refused before the route settled: time without a 200 still runs.
    { type: 'connecting', client: 0, at: 641 },
    { type: 'closed', client: 0, at: 650, reason: 'ECONNREFUSED: connect ECONNREFUSED', byUs: false },
    { type: 'connecting', client: 0, at: 750 },
    { type: 'connected', client: 0, at: 780, localPort: 40002 },
    { type: 'reply', client: 0, at: 790, code: 503, node: 'ams1-a' },
    { type: 'reply', client: 0, at: 800, code: 200, node: 'ams1-a' },
    { type: 'closed', client: 0, at: 900, reason: 'closed', byUs: true },
  ];

  test('one session per connection attempt; only 2xx count as registered; our own stop is no reset', () => {
    const sessions = fold(events);
    assert.equal(sessions.length, 3);
    assert.deepEqual(
      sessions.map((s) => [s.reset, s.replies.length, s.connectedAt]),
      [
        [true, 2, 20],
        [true, 0, undefined],
        [false, 1, 780],
      ],
    );
    assert.equal(sessions[0]!.errors[0]!.text, 'ECONNRESET: read ECONNRESET');
  });

  test('the gap runs from the last 200 on the broken connection to the first 200 on any later one', () => {
    const sessions = fold(events);
    assert.deepEqual(reregistrations(sessions, 0, 645), [
      { client: 0, from: 'lon1-a', to: 'ams1-a', gapMs: 470, afterResetMs: 160 },
    ]);
    assert.deepEqual(
      openAt(sessions, 500).map((s) => s.startedAt),
      [0],
    );
  });

  test('events for an unknown or ended connection change nothing', () => {
    const sessions = fold([
      { type: 'reply', client: 1, at: 5, code: 200, node: 'lon1-a' },
      { type: 'connecting', client: 1, at: 10 },
      { type: 'closed', client: 1, at: 20, reason: 'closed', byUs: false },
      { type: 'reply', client: 1, at: 30, code: 200, node: 'lon1-a' },
    ]);
    assert.equal(sessions.length, 1);
    assert.deepEqual(sessions[0]!.replies, []);
  });
});
