/** The flags on a drain that must not be missed. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { drainFlags, needsAttention } from '../../../src/dashboard/shared/drain-flags.js';
import type { DrainView, WindowView } from '../../../src/wire/coordinator-api.js';

function drain(extra: Partial<DrainView> = {}): DrainView {
  return {
    id: 'd-1',
    target: { site: 'lon1' },
    reason: 'kernel upgrade',
    ticket: null,
    owner: 'alice',
    createdAt: 1000,
    deadline: null,
    holdMs: null,
    overrides: [],
    windowId: null,
    status: 'active',
    phase: 'withdraw',
    phaseChangedAt: 1000,
    blocked: [],
    overdue: false,
    complete: true,
    completedAt: 2000,
    nodes: [],
    releasedAt: null,
    releasedBy: null,
    releaseReason: null,
    release: null,
    ...extra,
  };
}

function window(occurrence: WindowView['occurrence']): WindowView {
  return {
    id: 'w-1',
    target: { site: 'lon1' },
    cron: '0 2 * * 2',
    durationMs: 3_600_000,
    timezone: null,
    reason: 'weekly patching',
    ticket: null,
    holdMs: null,
    autoRelease: false,
    owner: 'alice',
    createdAt: 0,
    nextStartAt: null,
    occurrence,
  };
}

test('a quiet drain needs no attention', () => {
  assert.equal(needsAttention(drainFlags(drain(), [])), false);
});

test('overdue and blocked drains are flagged while active only', () => {
  const blocked = [{ rule: 'minAnnouncingSites' as const, message: 'below the floor', retryable: true }];
  assert.equal(drainFlags(drain({ overdue: true }), []).overdue, true);
  assert.equal(drainFlags(drain({ blocked }), []).blocked, true);
  assert.equal(needsAttention(drainFlags(drain({ overdue: true, blocked, status: 'released' }), [])), false);
});

test("a window's drain is flagged once its occurrence ended and it is still held", () => {
  const running = window({ startedAt: 0, endsAt: 5000, drainId: 'd-1', ended: false, refused: [] });
  const ended = window({ startedAt: 0, endsAt: 5000, drainId: 'd-1', ended: true, refused: [] });
  const later = window({ startedAt: 9000, endsAt: 10_000, drainId: 'd-2', ended: true, refused: [] });
  assert.equal(drainFlags(drain({ windowId: 'w-1' }), [running]).windowEnded, null);
  assert.equal(drainFlags(drain({ windowId: 'w-1' }), [ended]).windowEnded?.id, 'w-1');
  assert.equal(drainFlags(drain({ windowId: 'w-1' }), [later]).windowEnded, null);
});

test('a drain whose window was removed has nobody to end it', () => {
  assert.equal(drainFlags(drain({ windowId: 'w-gone' }), []).ownerless, true);
});
