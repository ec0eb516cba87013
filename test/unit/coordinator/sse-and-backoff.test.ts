/**
 * The SSE parser (chunks split anywhere, comments, CRLF) and the agent link's reconnect
 * backoff (bounded, exponential, jittered so a fleet does not reconnect as one wave).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay } from '../../../src/agent/coordinator-link.js';
import { formatSse, formatSseComment, SseParser, type SseMessage } from '../../../src/wire/sse.js';

describe('SSE parser', () => {
  it('reassembles events split at any byte, skips comments, accepts CRLF', () => {
    const wire =
      formatSse('desired', { revision: 3, drains: [] }, 3) +
      formatSseComment('keepalive') +
      'event: hello\r\ndata: {"keepaliveMs":1000}\r\n\r\n';
    for (let cut = 1; cut < wire.length; cut += 7) {
      const messages: SseMessage[] = [];
      const comments: string[] = [];
      const parser = new SseParser(
        (m) => messages.push(m),
        (c) => comments.push(c),
      );
      parser.push(wire.slice(0, cut));
      parser.push(wire.slice(cut));
      assert.deepEqual(messages, [
        { event: 'desired', data: '{"revision":3,"drains":[]}', id: '3' },
        { event: 'hello', data: '{"keepaliveMs":1000}', id: '3' },
      ]);
      assert.deepEqual(comments, ['keepalive']);
    }
  });
});

describe('reconnect backoff', () => {
  it('grows exponentially up to the cap and spreads a fleet across the window', () => {
    assert.equal(
      backoffDelay(1, 500, 30_000, () => 0.999999),
      999,
    );
    assert.equal(
      backoffDelay(3, 500, 30_000, () => 0.999999),
      3999,
    );
    assert.equal(
      backoffDelay(20, 500, 30_000, () => 0.999999),
      29_999,
    );
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const delays = Array.from({ length: 10_000 }, () => backoffDelay(5, 500, 30_000, random));
    const buckets = new Array(4).fill(0);
    for (const d of delays) buckets[Math.floor(d / 4000)]++;
    // Roughly uniform over [0, 16 s): no bucket holds the wave.
    for (const b of buckets) assert.ok(b > 2000 && b < 3000, `bucket sizes ${buckets.join(',')}`);
  });
});
