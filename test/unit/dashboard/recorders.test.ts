/** The dashboard's bounded histories: latency buckets per check and site state transitions. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LatencyRecorder } from '../../../src/dashboard/latency-recorder.js';
import { StateRecorder } from '../../../src/dashboard/state-recorder.js';
import { fixtureStatus } from './support/fleet-fixture.js';
import { fleet, nodeStatus, siteStatus } from './support/fleet-documents.js';

function probeAt(at: number, latencyMs: number, healthy = true) {
  const status = fixtureStatus('lon1-a', 'lon1', { now: at + 300, latencyMs, healthy });
  return status;
}

describe('LatencyRecorder', () => {
  test('buckets mean and max per check, counts each probe once, marks failing buckets', () => {
    const recorder = new LatencyRecorder({ bucketMs: 10_000, windowMs: 60_000 });
    recorder.record(probeAt(1_000, 4));
    recorder.record(probeAt(1_000, 4)); // the same probe reported again
    recorder.record(probeAt(2_000, 8));
    recorder.record(probeAt(12_000, 2, false));
    const history = recorder.snapshot(['lon1-a', 'nyc1-a'], 20_000);
    assert.deepEqual(history.nodes['lon1-a']!['sip-udp'], [
      [0, 6, 8, 'up'],
      [10_000, 0.4, 0.4, 'down'],
    ]);
    assert.deepEqual(history.nodes['nyc1-a'], {});
  });

  test('forgets what is older than the window, and memory stays bounded by the ring', () => {
    const recorder = new LatencyRecorder({ bucketMs: 10_000, windowMs: 30_000 });
    for (let at = 0; at < 200_000; at += 1000) recorder.record(probeAt(at, 3));
    const points = recorder.snapshot(['lon1-a'], 200_000).nodes['lon1-a']!['sip-udp']!;
    assert.deepEqual(
      points.map((p) => p[0]),
      [170_000, 180_000, 190_000],
    );
  });
});

describe('StateRecorder', () => {
  const up = fleet([siteStatus('lon1', 'eu', [nodeStatus('lon1-a')])]);
  const down = fleet([siteStatus('lon1', 'eu', [nodeStatus('lon1-a', { ack: 'withdraw', state: 'DOWN' })])]);

  test('keeps transitions only, and the state at the window start', () => {
    const recorder = new StateRecorder({ windowMs: 100_000 });
    recorder.record(up, 1000);
    recorder.record(up, 2000);
    recorder.record(down, 50_000);
    recorder.record(up, 120_000);
    const history = recorder.snapshot(160_000);
    assert.equal(history.since, 1000);
    assert.deepEqual(history.sites['lon1'], [
      [60_000, 'down'],
      [120_000, 'announcing'],
    ]);
  });

  test('a site leaving the inventory leaves the history', () => {
    const recorder = new StateRecorder();
    recorder.record(up, 1000);
    recorder.record(fleet([siteStatus('fra1', 'eu', [nodeStatus('fra1-a')])]), 2000);
    assert.deepEqual(Object.keys(recorder.snapshot(3000).sites), ['fra1']);
  });
});
