/**
 * Traffic across PoPs: lon1 and ams1 in eu, nyc1 in us, one node each, real agents. A client in
 * eu sends SIP OPTIONS to the anycast address and we watch which node answers: it stays in eu,
 * moves to the next eu PoP when lon1's proxy dies (within the agent's detection bound), comes
 * back on restore, and loses nothing while lon1 is drained gracefully. Losses on a hard failure
 * are recorded in test-output/lab-continuity.jsonl.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Lab } from '../../src/lab/lab.js';
import { bestNode, isAnnouncedBy, isWithdrawnBy } from '../../src/lab/route-observer.js';
import { trafficSegments, type ReceivedEvent } from '../../src/lab/sip-traffic.js';
import { failoverTopology } from '../../src/lab/topology.js';
import { waitFor } from '../../src/lab/wait.js';
import { labSkip, measureUntil, noteOutcome, record, releaseTestLab, startTestLab } from '../support/lab.js';

const T = { interval: 1000, fastInterval: 200, rise: 3, fall: 3, timeout: 500, drainHold: 2000 };
const KILLED_BOUND = T.interval + (T.fall - 1) * T.fastInterval + 1000;
const RATE = 20;
const REQUEST_TIMEOUT_MS = 1000;

function answeredBy(events: readonly ReceivedEvent[], node: string) {
  return events.filter((e) => e.type === 'reply' && e.node === node);
}

function describeSegments(events: readonly ReceivedEvent[]): string {
  return trafficSegments(events)
    .map((s) => `${s.node} #${s.fromSeq}-${s.toSeq}`)
    .join(', ');
}

describe('failover between PoPs with SIP traffic', { skip: labSkip({ needsAgent: true }) }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startTestLab('lab-failover', {
      topology: failoverTopology(),
      agentTuning: { ...T, flapDamping: false },
    });
  });
  after(() => releaseTestLab(lab));
  afterEach((t) => noteOutcome(t));

  it('a client in eu reaches an eu PoP (lon1), a client in us reaches nyc1', async () => {
    const eu = await lab.startTraffic('eu', { rate: RATE, count: 20, timeoutMs: REQUEST_TIMEOUT_MS }).done;
    assert.equal(eu.summary.answered, 20, describeSegments(eu.events));
    assert.deepEqual(eu.summary.byNode, { 'lon1-a': 20 });
    const us = await lab.sipOptions('us');
    assert.equal(us.answered && us.node, 'nyc1-a');
  });

  it(`lon1's proxy dies: eu traffic lands at ams1 within ${KILLED_BOUND} ms, and returns on restore`, async (t) => {
    const traffic = lab.startTraffic('eu', { rate: RATE, durationMs: 60_000, timeoutMs: REQUEST_TIMEOUT_MS });
    try {
      await waitFor(
        () => answeredBy(traffic.events, 'lon1-a').length,
        (n) => n >= 10,
        { timeoutMs: 5000, description: 'traffic flowing to lon1-a' },
      );
      const fault = await lab.fault('lon1-a', 'stop-proxy');
      const moved = await waitFor(
        () => traffic.events.find((e) => e.type === 'reply' && e.node === 'ams1-a' && e.sentAt >= fault.at),
        (e) => e !== undefined,
        { timeoutMs: KILLED_BOUND + 3000, pollMs: 20, description: 'a reply from ams1-a' },
      );
      const movedMs = moved.value!.sentAt - fault.at;
      const restartedAt = (await lab.fault('lon1-a', 'start-proxy')).at;
      await waitFor(
        () =>
          traffic.events.filter((e) => e.type === 'reply' && e.node === 'lon1-a' && e.sentAt > restartedAt),
        (replies) => replies.length >= 10,
        { timeoutMs: 15_000, pollMs: 50, description: 'traffic back at lon1-a' },
      );
      const { events } = await traffic.stop();
      const during = events.filter((e) => e.sentAt >= fault.at && e.sentAt < fault.at + movedMs);
      const lost = events.filter((e) => e.type === 'timeout');
      record('lab-continuity.jsonl', {
        test: 'lab-failover',
        event: 'hard failure: lon1-a Kamailio SIGKILL',
        rate: RATE,
        trafficMovedMs: movedMs,
        sentWhileMoving: during.length,
        lost: lost.length,
        segments: describeSegments(events),
      });
      t.diagnostic(
        `hard failure at ${RATE}/s: traffic moved after ${movedMs} ms, ${lost.length} of ${events.length} requests lost`,
      );
      assert.ok(movedMs <= KILLED_BOUND, `traffic moved after ${movedMs} ms`);
      assert.equal(answeredBy(events, 'nyc1-a').length, 0, 'eu traffic never left eu');
      const segments = trafficSegments(events).filter((s) => s.node !== 'lost');
      assert.deepEqual(
        segments.map((s) => s.node),
        ['lon1-a', 'ams1-a', 'lon1-a'],
        describeSegments(events),
      );
    } finally {
      await traffic.stop().catch(() => undefined);
    }
  });

  it('a graceful drain of lon1 at 20 requests/s loses nothing; traffic ends at ams1, then comes back', async (t) => {
    await lab.waitUntilAnnounced({ timeoutMs: 15_000 });
    assert.equal(bestNode(await lab.observer.snapshot(), 'eu'), 'lon1-a');
    const traffic = lab.startTraffic('eu', { rate: RATE, durationMs: 60_000, timeoutMs: REQUEST_TIMEOUT_MS });
    try {
      await waitFor(
        () => answeredBy(traffic.events, 'lon1-a').length,
        (n) => n >= 10,
        { timeoutMs: 5000, description: 'traffic flowing to lon1-a' },
      );
      const drainedAt = Date.now();
      const response = await lab.agentRequest('lon1-a', 'POST', '/drain', { reason: 'continuity test' });
      assert.equal(response.status, 200, response.body);
      // GRACEFUL_SHUTDOWN first: the eu router moves to ams1 while lon1 still serves.
      await measureUntil(lab, (s) => bestNode(s, 'eu') === 'ams1-a' && isAnnouncedBy(s, 'lon1-a', 'eu'), {
        since: drainedAt,
        boundMs: 1000,
        description: 'eu prefers ams1 while lon1 is still announced (de-preferred)',
      });
      await measureUntil(lab, (s) => isWithdrawnBy(s, 'lon1-a'), {
        since: drainedAt,
        boundMs: T.drainHold + 1000,
        description: 'lon1-a withdrawn after the drain hold',
      });
      await waitFor(
        () => answeredBy(traffic.events, 'ams1-a').filter((e) => e.sentAt > drainedAt + T.drainHold).length,
        (n) => n >= 10,
        { timeoutMs: 5000, description: 'traffic at ams1-a after the withdrawal' },
      );
      const { summary, events } = await traffic.stop();
      record('lab-continuity.jsonl', {
        test: 'lab-failover',
        event: 'graceful drain of lon1-a',
        rate: RATE,
        sent: summary.sent,
        lost: summary.lost,
        byNode: summary.byNode,
        segments: describeSegments(events),
      });
      t.diagnostic(`graceful drain at ${RATE}/s: ${summary.lost} of ${summary.sent} requests lost`);
      assert.equal(summary.lost, 0, `lost during a graceful drain: ${describeSegments(events)}`);
      assert.deepEqual(
        trafficSegments(events).map((s) => s.node),
        ['lon1-a', 'ams1-a'],
      );
    } finally {
      await traffic.stop().catch(() => undefined);
      await lab.agentRequest('lon1-a', 'POST', '/undrain');
    }
    await measureUntil(lab, (s) => bestNode(s, 'eu') === 'lon1-a', {
      since: Date.now(),
      boundMs: T.interval + T.rise * T.fastInterval + 1000,
      description: 'eu back at lon1 after undrain',
    });
    const back = await lab.sipOptions('eu');
    assert.equal(back.answered && back.node, 'lon1-a');
  });
});
