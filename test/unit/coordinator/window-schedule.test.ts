/**
 * Window schedule decisions with node-cron's real matcher and a fixed clock: a window starts
 * at its cron start, is not repeated or forgotten across a restart, ends after its duration,
 * and auto-releases only when asked.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cronProblems, nextStartFinder } from '../../../src/coordinator/cron.js';
import type { WindowRecord } from '../../../src/coordinator/model.js';
import { decideWindow } from '../../../src/coordinator/window-schedule.js';

const at = (iso: string) => Date.parse(iso);
// Daily at 02:00 UTC for one hour.
const nextStart = nextStartFinder('0 2 * * *', 'UTC');

function window(occurrence: WindowRecord['occurrence'], extra: Partial<WindowRecord> = {}) {
  return {
    durationMs: 3_600_000,
    createdAt: at('2026-01-01T00:00:00Z'),
    occurrence,
    autoRelease: false,
    ...extra,
  };
}

const decide = (w: ReturnType<typeof window>, now: number, active = true) =>
  decideWindow({ window: w, now, nextStart, drainActive: () => active });

describe('window schedule', () => {
  it('nothing before the start; a start exactly at it and during the window', () => {
    assert.deepEqual(decide(window(null), at('2026-01-01T01:59:59Z')), [{ kind: 'none' }]);
    assert.deepEqual(decide(window(null), at('2026-01-01T02:00:00Z')), [
      { kind: 'start', startedAt: at('2026-01-01T02:00:00Z'), endsAt: at('2026-01-01T03:00:00Z') },
    ]);
    // A coordinator that was down at 02:00 and comes back at 02:30 still starts this occurrence.
    assert.equal(decide(window(null), at('2026-01-01T02:30:00Z'))[0]!.kind, 'start');
  });

  it('a window added in the middle of an occurrence waits for the next one', () => {
    const w = window(null, { createdAt: at('2026-01-01T02:10:00Z') });
    assert.deepEqual(decide(w, at('2026-01-01T02:30:00Z')), [{ kind: 'none' }]);
    assert.equal(decide(w, at('2026-01-02T02:00:01Z'))[0]!.kind, 'start');
  });

  it('an occurrence in progress is not started again, and a refused one is retried', () => {
    const occurrence = {
      startedAt: at('2026-01-01T02:00:00Z'),
      endsAt: at('2026-01-01T03:00:00Z'),
      ended: false,
      refused: [],
    };
    assert.deepEqual(decide(window({ ...occurrence, drainId: 'd-1' }), at('2026-01-01T02:30:00Z')), [
      { kind: 'none' },
    ]);
    assert.deepEqual(decide(window({ ...occurrence, drainId: null }), at('2026-01-01T02:30:00Z')), [
      { kind: 'retry' },
    ]);
  });

  it('ends at startedAt + duration; never starts the same occurrence twice', () => {
    const occurrence = {
      startedAt: at('2026-01-01T02:00:00Z'),
      endsAt: at('2026-01-01T03:00:00Z'),
      drainId: 'd-1',
      refused: [],
    };
    assert.deepEqual(decide(window({ ...occurrence, ended: false }), at('2026-01-01T03:00:00Z')), [
      { kind: 'end' },
    ]);
    assert.deepEqual(decide(window({ ...occurrence, ended: true }), at('2026-01-01T03:00:00Z')), [
      { kind: 'none' },
    ]);
    assert.equal(
      decide(window({ ...occurrence, ended: true }), at('2026-01-02T02:00:00Z'))[0]!.kind,
      'start',
    );
  });

  it('auto-releases after the end only when the window says so and the drain is still held', () => {
    const ended = {
      startedAt: at('2026-01-01T02:00:00Z'),
      endsAt: at('2026-01-01T03:00:00Z'),
      drainId: 'd-1',
      ended: true,
      refused: [],
    };
    const now = at('2026-01-01T03:00:05Z');
    assert.deepEqual(decide(window(ended, { autoRelease: true }), now), [
      { kind: 'auto-release', drainId: 'd-1' },
    ]);
    assert.deepEqual(decide(window(ended, { autoRelease: true }), now, false), [{ kind: 'none' }]);
    assert.deepEqual(decide(window(ended), now), [{ kind: 'none' }]);
  });

  it('second-granularity expressions and time zones', () => {
    const every10s = nextStartFinder('*/10 * * * * *', null);
    assert.equal(every10s(at('2026-01-01T00:00:05Z')), at('2026-01-01T00:00:10Z'));
    const paris = nextStartFinder('0 2 * * *', 'Europe/Paris');
    assert.equal(paris(at('2026-01-01T00:00:00Z')), at('2026-01-01T01:00:00Z'));
  });

  it('names bad expressions and time zones', () => {
    assert.match(cronProblems('61 * * * *')[0]!, /minute/);
    assert.match(cronProblems('* * *')[0]!, /5 or 6 fields/);
    assert.match(cronProblems('0 2 * * *', 'Mars/Olympus')[0]!, /time zone/);
    assert.deepEqual(cronProblems('0 2 * * 0', 'Europe/London'), []);
  });
});
