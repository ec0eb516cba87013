import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  WARM_WINDOW_MS,
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
