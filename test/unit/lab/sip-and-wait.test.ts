/** The lab client's SIP messages, traffic segmentation, and the bounded polling helpers. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildOptionsRequest, newRequestIds, parseSipResponse } from '../../../src/lab/sip-message.js';
import { trafficSegments, type TrafficEvent } from '../../../src/lab/sip-traffic.js';
import { waitFor, waitForStable, WaitTimeoutError } from '../../../src/lab/wait.js';

describe('SIP OPTIONS', () => {
  it('builds a request with CRLF lines, a fresh branch and the real local address', () => {
    const ids = newRequestIds();
    const text = buildOptionsRequest({
      target: '198.51.100.10',
      port: 5060,
      transport: 'UDP',
      localAddress: '203.0.113.2',
      localPort: 40312,
      cseq: 1,
      ...ids,
    });
    assert.ok(text.startsWith('OPTIONS sip:198.51.100.10:5060 SIP/2.0\r\n'));
    assert.ok(text.endsWith('\r\n\r\n'));
    assert.match(text, new RegExp(`Via: SIP/2.0/UDP 203.0.113.2:40312;rport;branch=${ids.branch}\r\n`));
    assert.match(ids.branch, /^z9hG4bK/);
    assert.notEqual(newRequestIds().callId, ids.callId);
    const v6 = buildOptionsRequest({
      target: '2001:db8:a::10',
      port: 5060,
      transport: 'TCP',
      localAddress: '2001:db8:c0::2',
      localPort: 1,
      cseq: 2,
      ...ids,
    });
    assert.ok(v6.startsWith('OPTIONS sip:[2001:db8:a::10]:5060;transport=tcp SIP/2.0\r\n'));
  });

  it('parses a reply, including compact header names, and finds the Server header', () => {
    const reply = parseSipResponse(
      'SIP/2.0 200 OK\r\nv: SIP/2.0/UDP 203.0.113.2:1;branch=z9hG4bKx\r\ni: abc@lab\r\nServer: herald-lab ams1-a\r\nl: 0\r\n\r\n',
    );
    assert.equal(reply?.code, 200);
    assert.equal(reply?.reason, 'OK');
    assert.equal(reply?.headers['call-id'], 'abc@lab');
    assert.equal(reply?.headers.server, 'herald-lab ams1-a');
    assert.equal(reply?.headers['content-length'], '0');
    assert.equal(parseSipResponse('OPTIONS sip:x SIP/2.0\r\n\r\n'), undefined, 'a request is not a reply');
    assert.equal(parseSipResponse('garbage'), undefined);
  });
});

describe('trafficSegments', () => {
  it('shows how answers moved between nodes, with losses as their own segment', () => {
    const reply = (seq: number, node: string): TrafficEvent => ({
      type: 'reply',
      seq,
      sentAt: seq * 50,
      rttMs: 1,
      code: 200,
      node,
    });
    const events: TrafficEvent[] = [
      reply(3, 'lon1-a'),
      reply(1, 'lon1-a'),
      reply(2, 'lon1-a'),
      { type: 'timeout', seq: 4, sentAt: 200 },
      reply(5, 'ams1-a'),
      reply(6, 'ams1-a'),
    ];
    assert.deepEqual(
      trafficSegments(events).map((s) => [s.node, s.fromSeq, s.toSeq]),
      [
        ['lon1-a', 1, 3],
        ['lost', 4, 4],
        ['ams1-a', 5, 6],
      ],
    );
  });
});

describe('waitFor', () => {
  it('resolves with the first value that satisfies the predicate', async () => {
    let n = 0;
    const result = await waitFor(
      () => ++n,
      (v) => v >= 4,
      { timeoutMs: 2000, pollMs: 1 },
    );
    assert.equal(result.value, 4);
    assert.equal(result.attempts, 4);
  });

  it('counts a throwing observation as "not yet"', async () => {
    let n = 0;
    const result = await waitFor(
      () => {
        if (++n < 3) throw new Error('not ready');
        return 'ok';
      },
      (v) => v === 'ok',
      { timeoutMs: 2000, pollMs: 1 },
    );
    assert.equal(result.value, 'ok');
  });

  it('times out saying what it waited for and what it last saw', async () => {
    const started = performance.now();
    await assert.rejects(
      waitFor(
        () => ({ routes: 0 }),
        () => false,
        { timeoutMs: 150, pollMs: 20, description: 'the route at eu' },
      ),
      (error: unknown) => {
        assert.ok(error instanceof WaitTimeoutError);
        assert.match(error.message, /waiting for the route at eu/);
        assert.match(error.message, /last observed: \{"routes":0\}/);
        return true;
      },
    );
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 140 && elapsed < 2000, `gave up after ${elapsed} ms`);
  });

  it('waitForStable fails when the condition stops holding', async () => {
    let n = 0;
    await assert.rejects(
      waitForStable(
        () => ++n,
        (v) => v < 5,
        { timeoutMs: 1000, pollMs: 1, forMs: 1000, description: 'a small number' },
      ),
      /expected a small number to hold for 1000 ms/,
    );
  });
});
