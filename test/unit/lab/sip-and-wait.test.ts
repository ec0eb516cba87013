/** The lab client's traffic segmentation and the bounded polling helpers (its SIP is the probe's: test/unit/probes). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { trafficSegments, type TrafficEvent } from '../../../src/lab/sip-traffic.js';
import { waitFor, waitForStable, WaitTimeoutError } from '../../../src/lab/wait.js';

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
