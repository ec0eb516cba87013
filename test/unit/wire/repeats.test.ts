/** The one "each name once" check, and the drain request that refuses a rule overridden twice. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatIssues } from '../../../src/config/load.js';
import { drainRequestSchema } from '../../../src/wire/coordinator-api.js';
import { repeats } from '../../../src/wire/repeats.js';

test('repeats points at every item whose key came before, not at the first one', () => {
  assert.deepEqual(
    repeats(['a', 'b', 'a', 'c', 'b', 'a'], (x) => x),
    [
      { index: 2, key: 'a' },
      { index: 4, key: 'b' },
      { index: 5, key: 'a' },
    ],
  );
  assert.deepEqual(
    repeats([], (x: string) => x),
    [],
  );
});

test('a drain overriding the same rule twice is refused, naming the second override', () => {
  const input = {
    site: 'lon1',
    reason: 'kernel upgrade',
    overrides: [
      { rule: 'regionFloor', reason: 'eu has spare capacity' },
      { rule: 'regionFloor', reason: 'again' },
    ],
  };
  const result = drainRequestSchema.safeParse(input);
  assert.equal(result.success, false);
  assert.deepEqual(formatIssues(result.error!.issues, input), [
    'overrides.1.rule: expected each rule overridden once, received "regionFloor" twice',
  ]);
});
