/** Parsing what ExaBGP 4.2 writes to its helper: acks, JSON events, and garbage that must not throw. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseApiLine, SUMMARY_HEADER_LINE } from '../../../src/exabgp/api-events.js';
import { stateMessage } from './fixtures/fake-transport.js';

/** Any characters: mostly ASCII controls and punctuation, sometimes any code point (even a lone surrogate). */
const anyText = fc.string({
  unit: fc.oneof(
    fc.nat(0x7f).map((code) => String.fromCharCode(code)),
    fc.nat(0x10ffff).map((code) => String.fromCodePoint(code)),
  ),
});

test('acks, with stray whitespace', () => {
  assert.deepEqual(parseApiLine('done'), { kind: 'done' });
  assert.deepEqual(parseApiLine('error '), { kind: 'error' });
  assert.equal(parseApiLine('Done').kind, 'unknown');
});

test('a state message exactly as ExaBGP 4.2.21 writes it', () => {
  assert.deepEqual(parseApiLine(stateMessage('192.0.2.2', 'up')), {
    kind: 'state',
    peer: '192.0.2.2',
    local: '192.0.2.1',
    state: 'up',
    reason: null,
    time: 1795293071.91,
  });
  const down = parseApiLine(stateMessage('127.0.0.2', 'down', 'peer reset, message (closing connection) error(Broken TCP connection)'));
  assert.equal(down.kind === 'state' && down.reason, 'peer reset, message (closing connection) error(Broken TCP connection)');
});

test('the shutdown notice, and a BGP NOTIFICATION that is not one', () => {
  assert.deepEqual(
    parseApiLine('{ "exabgp": "4.0.1", "time": 1795296025.68, "host" : "vm", "pid" : 10472, "ppid" : 10471, "type": "notification", "notification": "shutdown" }'),
    { kind: 'shutdown' },
  );
  assert.deepEqual(
    parseApiLine('{ "exabgp": "4.0.1", "time": 1.0, "type": "notification", "neighbor": { "address": { "peer": "192.0.2.2" }, "notification": { "code": 6, "subcode": 2, "data": "" } } }'),
    { kind: 'ignored', type: 'notification' },
  );
});

test('other message types are ignored, invalid ones are unknown with a reason', () => {
  assert.deepEqual(parseApiLine('{ "exabgp": "4.0.1", "time": 1.0, "type": "update", "neighbor": {} }'), {
    kind: 'ignored',
    type: 'update',
  });
  const badState = parseApiLine('{ "exabgp": "4.0.1", "type": "state", "neighbor": { "address": { "peer": "192.0.2.2" }, "state": "sideways" } }');
  assert.equal(badState.kind, 'unknown');
  assert.match(badState.kind === 'unknown' ? badState.reason : '', /neighbor\.state/);
  const notExabgp = parseApiLine('{"type": "state"}');
  assert.equal(notExabgp.kind, 'unknown');
  assert.match(notExabgp.kind === 'unknown' ? notExabgp.reason : '', /exabgp/);
  assert.equal(parseApiLine('{ "exabgp": "4.0.1", "type": "state", ').kind, 'unknown');
});

test('the header that answers the barrier, and text that is not it', () => {
  assert.deepEqual(parseApiLine(SUMMARY_HEADER_LINE), { kind: 'summary-header' });
  assert.equal(parseApiLine('exabgp 4.2.21').kind, 'unknown');
  assert.equal(parseApiLine('127.0.0.2       65000       0:00:03 established  |         1          0').kind, 'unknown');
  assert.equal(parseApiLine('').kind, 'unknown');
});

test('never throws, whatever the line', () => {
  const exabgpLike = fc
    .record({
      exabgp: fc.oneof(fc.constant('4.0.1'), fc.anything()),
      type: fc.oneof(fc.constantFrom('state', 'notification', 'update'), fc.anything()),
      notification: fc.anything(),
      neighbor: fc.oneof(
        fc.anything({ maxDepth: 2 }),
        fc.record({ address: fc.anything({ maxDepth: 1 }), state: fc.anything({ maxDepth: 0 }) }),
      ),
    })
    .map((value) => JSON.stringify(value));
  fc.assert(
    fc.property(fc.oneof(anyText, fc.string().map((s) => `{${s}`), exabgpLike), (line) => {
      const event = parseApiLine(line);
      assert.ok(['done', 'error', 'summary-header', 'state', 'shutdown', 'ignored', 'unknown'].includes(event.kind));
    }),
    { numRuns: 300 },
  );
});
