/** How one OPTIONS probe reads each message it receives: match, skip, settle, or fail. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildOptionsRequest } from '../../../src/probes/sip-message.js';
import { createSipReplyTracker } from '../../../src/probes/sip-reply.js';

const request = buildOptionsRequest({
  transport: 'udp',
  targetHost: '127.0.0.1',
  targetPort: 5060,
  localAddress: '127.0.0.1',
  localPort: 40000,
});
const policy = { warnCodes: [404] };

function reply(code: number, reason: string, branch = request.branch): Buffer {
  return Buffer.from(
    `SIP/2.0 ${code} ${reason}\r\nVia: SIP/2.0/UDP 127.0.0.1:40000;branch=${branch}\r\n` +
      `Call-ID: ${request.callId}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`,
  );
}

test('a matching final reply settles the probe with its class, code and time', () => {
  const tracker = createSipReplyTracker(request, policy);
  assert.deepEqual(tracker.judge(reply(404, 'Not Found'), 12.4), {
    status: 'warn',
    detail: '404 Not Found in 12 ms',
    sipCode: 404,
    answered: true,
  });
});

test('provisional, unmatched and keepalive messages keep the probe waiting, and are counted', () => {
  const tracker = createSipReplyTracker(request, policy);
  assert.equal(tracker.judge(reply(100, 'Trying'), 1), undefined);
  assert.equal(tracker.judge(reply(200, 'OK', 'z9hG4bKother'), 1), undefined);
  assert.equal(tracker.judge(reply(200, 'OK', 'z9hG4bKother2'), 1), undefined);
  assert.equal(tracker.judge(Buffer.from('\r\n\r\n'), 1), undefined);
  assert.equal(
    tracker.describe(3),
    '3 requests sent, got 100 Trying but no final reply, ignored 2 unmatched replies',
  );
  assert.equal(tracker.judge(reply(200, 'OK'), 5)?.status, 'up');
});

test('garbage fails the probe as an unparsable reply, and the peer counts as answering', () => {
  const outcome = createSipReplyTracker(request, policy).judge(Buffer.from('\x00\x01garbage'), 1);
  assert.equal(outcome?.status, 'down');
  assert.match(outcome?.detail ?? '', /^unparsable reply: expected headers ending in an empty line/);
  assert.equal(outcome?.answered, true);
});
