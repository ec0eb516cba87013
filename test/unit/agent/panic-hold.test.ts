/**
 * The agent's panic hold once the coordinator falls silent: `holdMs` after the later of the last
 * contact and the panic's receipt, on the monotonic clock; the wall clock only labels the expiry.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { panicHold, type PanicHoldInput } from '../../../src/agent/panic-hold.js';

const HOUR = 3_600_000;
const WALL = Date.parse('2026-03-01T12:00:00Z');

function input(overrides: Partial<PanicHoldInput>): PanicHoldInput {
  return {
    holdMs: HOUR,
    receivedAt: { mono: 1000, wall: WALL },
    lastContact: null,
    connected: false,
    now: 1000,
    ...overrides,
  };
}

describe('panic hold', () => {
  it('holds while the push stream is open, with no expiry to show', () => {
    assert.deepEqual(panicHold(input({ connected: true, now: 1000 + 10 * HOUR })), {
      inForce: true,
      expiresAt: null,
    });
  });

  it('lapses holdMs after the later of the receipt and the last contact', () => {
    const receivedAt = { mono: 1000, wall: WALL };
    const lastContact = { mono: 61_000, wall: WALL + 60_000 };
    assert.deepEqual(panicHold(input({ receivedAt, lastContact, now: 61_000 + HOUR - 1 })), {
      inForce: true,
      expiresAt: WALL + 60_000 + HOUR,
    });
    assert.equal(panicHold(input({ receivedAt, lastContact, now: 61_000 + HOUR })).inForce, false);
    // A contact older than the receipt does not shorten the hold.
    const older = { mono: 500, wall: WALL - 500 };
    assert.deepEqual(panicHold(input({ receivedAt, lastContact: older, now: 1000 + HOUR - 1 })), {
      inForce: true,
      expiresAt: WALL + HOUR,
    });
  });

  it('property: the wall clock decides nothing (set back or forward, the hold lasts holdMs of monotonic time)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 * HOUR }),
        fc.integer({ min: 0, max: 3 * HOUR }),
        fc.integer({ min: -24 * HOUR, max: 24 * HOUR }),
        fc.integer({ min: -24 * HOUR, max: 24 * HOUR }),
        fc.option(fc.integer({ min: 0, max: 3 * HOUR }), { nil: null }),
        (holdMs, elapsed, receiptJump, contactJump, contactAfter) => {
          const receivedAt = { mono: 5000, wall: WALL + receiptJump };
          const lastContact =
            contactAfter === null ? null : { mono: 5000 + contactAfter, wall: WALL + contactJump };
          const now = 5000 + elapsed;
          const hold = panicHold({ holdMs, receivedAt, lastContact, connected: false, now });
          const from = Math.max(5000, lastContact?.mono ?? 0);
          assert.equal(hold.inForce, now - from < holdMs);
        },
      ),
      { numRuns: 500 },
    );
  });
});
