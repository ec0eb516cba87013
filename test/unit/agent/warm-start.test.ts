import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  WARM_REFRESH_MS,
  WARM_WINDOW_MS,
  WarmStartRecorder,
  isWarm,
  lastUpFile,
  readLastUp,
  writeLastUp,
} from '../../../src/agent/warm-start.js';

describe('warm start record', () => {
  test('warm only when the last record says UP and is recent', () => {
    const now = 1_000_000;
    assert.equal(isWarm({ up: true, at: now - 1000 }, now), true);
    assert.equal(
      isWarm({ up: true, at: now - WARM_WINDOW_MS - 1 }, now),
      false,
      'too old: a reboot starts cold',
    );
    assert.equal(isWarm({ up: false, at: now - 1000 }, now), false);
    assert.equal(
      isWarm({ up: true, at: now + 60_000 }, now),
      false,
      'a record from the future is not trusted',
    );
    assert.equal(isWarm(null, now), false);
  });

  test('round-trips through the state directory; a corrupt record means a cold start', () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-warm-'));
    assert.equal(readLastUp(dir), null);
    writeLastUp(dir, true, 123);
    assert.deepEqual(readLastUp(dir), { up: true, at: 123 });
    writeFileSync(lastUpFile(dir), '{"up": tr');
    assert.equal(readLastUp(dir), null);
  });
});

describe('warm start recorder', () => {
  function recorder(options: { fail?: () => boolean } = {}) {
    const clock = { mono: 0, wall: 1_700_000_000_000 };
    const writes: Array<{ up: boolean; at: number }> = [];
    const warnings: string[] = [];
    const logger = { warn: (_fields: unknown, message: string) => warnings.push(message) };
    const record = new WarmStartRecorder(
      (up, at) => {
        if (options.fail?.()) throw new Error('disk full');
        writes.push({ up, at });
      },
      { now: () => clock.mono, wallNow: () => clock.wall },
      logger as unknown as ConstructorParameters<typeof WarmStartRecorder>[2],
    );
    return { record, clock, writes, warnings };
  }

  test('writes on every change of announcing health, and while UP every WARM_REFRESH_MS, never more', () => {
    const { record, clock, writes } = recorder();
    record.record(false);
    record.record(false);
    assert.deepEqual(writes, [{ up: false, at: clock.wall }], 'DOWN is written once');
    clock.mono += 100;
    clock.wall += 100;
    record.record(true);
    assert.equal(writes.length, 2);
    clock.mono += WARM_REFRESH_MS - 1;
    record.record(true);
    assert.equal(writes.length, 2, 'not yet due');
    clock.mono += 1;
    clock.wall += 7000;
    record.record(true);
    assert.deepEqual(writes.at(-1), { up: true, at: clock.wall }, 'the refresh holds the wall time now');
    record.record(false);
    assert.deepEqual(writes.at(-1)?.up, false, 'going down is written at once');
  });

  test('the refresh interval is measured on the monotonic clock: a wall-clock step does not stop it', () => {
    const { record, clock, writes } = recorder();
    record.record(true);
    clock.wall -= 3_600_000; // the clock stepped back an hour
    clock.mono += WARM_REFRESH_MS;
    record.record(true);
    assert.equal(writes.length, 2);
  });

  test('a failing write is logged once, leaves the next start cold, and is retried on the next call', () => {
    let failing = false;
    const { record, writes, warnings } = recorder({ fail: () => failing });
    record.record(true);
    failing = true;
    record.record(false);
    record.record(false);
    assert.equal(warnings.length, 1, 'logged once, not every round');
    assert.match(warnings[0]!, /restart will start cold/);
    failing = false;
    record.record(false);
    assert.deepEqual(writes.at(-1), { up: false, at: writes.at(-1)!.at });
    assert.equal(writes.length, 2);
  });
});
