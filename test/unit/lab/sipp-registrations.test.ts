/**
 * Reading SIPp's logs for the lab's persistent registrations: the 200s with their time and the
 * node that answered, the errors with their time, and how a client re-registered after a reset.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  parseSippErrors,
  parseSippMessages,
  registerScenario,
  reregistrations,
  type SippSession,
} from '../../../src/lab/sipp-registrations.js';

const messages = [
  'Wrote 300 of 300 bytes in an output buffer.',
  '----------------------------------------------- 2026-12-05 06:46:23.498477',
  'TCP message sent [300] bytes :',
  '',
  'REGISTER sip:198.51.100.10:5060 SIP/2.0',
  '',
  '----------------------------------------------- 2026-12-05 06:46:23.518498',
  'TCP message received [271] bytes :',
  '',
  'SIP/2.0 200 OK',
  'Call-ID: 1-7729@203.0.113.2',
  'Server: herald-lab lon1-a',
  'Content-Length: 0',
  '',
  '----------------------------------------------- 2026-12-05 06:46:23.820000',
  'TCP message received [271] bytes :',
  '',
  'SIP/2.0 503 Service Unavailable',
  'Server: herald-lab lon1-a',
  '',
].join('\n');

describe('SIPp registrations', () => {
  test('the 200 replies, when they came and which node answered', () => {
    const replies = parseSippMessages(messages);
    assert.equal(replies.length, 1);
    assert.equal(replies[0]!.node, 'lon1-a');
    assert.equal(replies[0]!.at, new Date('2026-12-05T06:46:23.518').getTime());
    assert.deepEqual(parseSippMessages('garbage\n'), []);
  });

  test('the errors, each with its time', () => {
    const text =
      'The following events occurred:\n2026-12-05\t06:58:20.675246\t1796453900.675246: Error on TCP connection, remote peer probably closed the socket: Connection reset by peer' +
      '2026-12-05\t06:58:20.775000\t1796453900.775000: Closing calls';
    assert.deepEqual(parseSippErrors(text), [
      {
        at: 1796453900675,
        text: 'Error on TCP connection, remote peer probably closed the socket: Connection reset by peer',
      },
      { at: 1796453900775, text: 'Closing calls' },
    ]);
  });

  test('a reset connection and the next one of the same client: from where to where, and the gap', () => {
    const session = (over: Partial<SippSession>): SippSession => ({
      client: 0,
      startedAt: 0,
      endedAt: undefined,
      exitCode: undefined,
      replies: [],
      errors: [],
      reset: false,
      logs: { messages: '', errors: '' },
      ...over,
    });
    const sessions = [
      session({
        endedAt: 1000,
        reset: true,
        replies: [{ at: 500, node: 'lon1-a' }],
        errors: [{ at: 900, text: 'reset by peer' }],
      }),
      session({ client: 1, endedAt: 5000, reset: false, replies: [{ at: 600, node: 'lon1-a' }] }),
      session({ startedAt: 1000, replies: [{ at: 1400, node: 'ams1-a' }] }),
    ];
    assert.deepEqual(reregistrations(sessions), [
      { client: 0, from: 'lon1-a', to: 'ams1-a', gapMs: 900, afterResetMs: 500 },
    ]);
    assert.deepEqual(reregistrations(sessions, 2000), [], 'outside the window');
  });

  test('the scenario re-registers in a loop on its connection', () => {
    const xml = registerScenario(250);
    assert.match(xml, /<pause milliseconds="250" next="1"\/>/);
    assert.match(xml, /REGISTER sip:\[remote_ip\] SIP\/2\.0/);
  });
});
