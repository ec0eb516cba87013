/** Which reply codes keep a proxy announced: the defaults of the notes, and configured overrides. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifySipCode } from '../../../src/probes/sip-classify.js';

const defaults = { warnCodes: [401, 403, 404, 405, 407, 416, 420, 484] };

test('any 2xx is up by default', () => {
  for (const code of [200, 202, 299]) assert.equal(classifySipCode(code, defaults), 'up', String(code));
});

test('the warn codes are up with a warning', () => {
  for (const code of defaults.warnCodes) assert.equal(classifySipCode(code, defaults), 'warn', String(code));
});

test('timeouts, loops, overload, draining and other failures are down', () => {
  for (const code of [301, 400, 408, 480, 482, 483, 486, 500, 502, 503, 504, 600, 603, 699])
    assert.equal(classifySipCode(code, defaults), 'down', String(code));
});

test('a provisional or impossible code is never up', () => {
  for (const code of [100, 180, 199, 0, 700, 200.5, NaN])
    assert.equal(classifySipCode(code, defaults), 'down');
});

test('configured upCodes replace the 2xx default', () => {
  const policy = { upCodes: [200, 404], warnCodes: [403] };
  assert.equal(classifySipCode(404, policy), 'up');
  assert.equal(classifySipCode(202, policy), 'down');
  assert.equal(classifySipCode(403, policy), 'warn');
});
