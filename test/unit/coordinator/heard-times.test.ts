/**
 * The pure parts of sharing when agents last reported (replicas/heard-times.ts) and of the board
 * entry's report time (health-board.ts NodeHealthTracker): what a replica writes, when it writes,
 * and what another replica shows as "last seen" — a real report time, never a later one.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AgentEventData } from '../../../src/coordinator/events.js';
import { NodeHealthTracker, type NodeHealth } from '../../../src/coordinator/replicas/health-board.js';
import {
  decodeHeard,
  encodeHeard,
  heardChanged,
  heardPeriodMs,
  lastHeardAt,
  servedHeardTimes,
} from '../../../src/coordinator/replicas/heard-times.js';

const health = (heardAt?: number): NodeHealth => ({
  node: 'lon1-a',
  site: 'lon1',
  replica: 'coord-a',
  state: 'UP',
  healthy: true,
  announcing: [],
  stale: false,
  drainStage: null,
  ...(heardAt === undefined ? {} : { heardAt }),
});

describe('heard times: what a replica shares', () => {
  it('rewrites its key a fifth of staleAfter apart, between half a second and five seconds', () => {
    assert.equal(heardPeriodMs(15_000), 3000);
    assert.equal(heardPeriodMs(1000), 500);
    assert.equal(heardPeriodMs(120_000), 5000);
  });

  it('covers the nodes connected here that reported, with their receive times', () => {
    const reports = new Map([
      ['lon1-a', { receivedAt: 1000 }],
      ['lon1-b', { receivedAt: 2000 }],
      ['nyc1-a', { receivedAt: 3000 }],
    ]);
    const times = servedHeardTimes(['lon1-a', 'lon1-b', 'lon1-c'], reports);
    assert.deepEqual(
      [...times],
      [
        ['lon1-a', 1000],
        ['lon1-b', 2000],
      ],
    );
  });

  it('is a change only when a time moved or a node came or went', () => {
    const times = new Map([['lon1-a', 1000]]);
    assert.equal(heardChanged(undefined, times), true, 'nothing written yet');
    assert.equal(heardChanged(new Map(times), times), false);
    assert.equal(heardChanged(times, new Map([['lon1-a', 1500]])), true);
    assert.equal(heardChanged(times, new Map([['lon1-b', 1000]])), true);
    assert.equal(heardChanged(times, new Map()), true);
  });

  it('reads back exactly the times it wrote, in a value of about 20 bytes a node', () => {
    const times = new Map([
      ['lon1-a', 1_700_000_000_123],
      ['lon1-b', 1_700_000_004_999],
      ['lon1-c', 1_700_000_006_000],
    ]);
    const value = encodeHeard(times);
    assert.deepEqual(decodeHeard(value), times);
    assert.ok(value.length < 3 * 30, `compact: ${value}`);
    assert.deepEqual(decodeHeard(encodeHeard(new Map())), new Map());
  });

  it('reads nothing from a value that is not one', () => {
    assert.equal(decodeHeard('not json'), undefined);
    assert.equal(decodeHeard('null'), undefined);
    assert.equal(decodeHeard('{"ago":{}}'), undefined);
    assert.deepEqual([...decodeHeard('{"at":5000,"ago":{"a":"x","b":-1,"c":1000}}')!], [['c', 4000]]);
  });
});

describe('heard times: what another replica shows', () => {
  it("the later of the entry's report time and the serving replica's key, null when neither", () => {
    assert.equal(lastHeardAt(health(4000), new Map([['lon1-a', 9000]])), 9000);
    assert.equal(lastHeardAt(health(9000), new Map([['lon1-a', 4000]])), 9000);
    assert.equal(lastHeardAt(health(4000), new Map([['lon1-b', 9000]])), 4000, 'another node’s time');
    assert.equal(lastHeardAt(health(), new Map([['lon1-a', 9000]])), 9000);
    assert.equal(lastHeardAt(health(4000), undefined), 4000);
    assert.equal(lastHeardAt(health(), undefined), null);
  });
});

describe('the board entry carries its report time without a write per heartbeat', () => {
  const event = (lastSeenAt: number | null, state = 'UP'): AgentEventData => ({
    node: 'lon1-a',
    site: 'lon1',
    state,
    healthy: true,
    announcing: [],
    stale: false,
    connected: true,
    lastSeenAt,
  });
  const at = (seq: number, data: AgentEventData) => ({ type: 'agent.report' as const, seq, at: 0, data });

  it('writes the report time with a change, not a report that only moved the time', () => {
    const tracker = new NodeHealthTracker('coord-a');
    const first = tracker.apply(at(1, event(1000)));
    assert.equal(first[0]?.health?.heardAt, 1000);
    assert.deepEqual(tracker.apply(at(2, event(2000))), [], 'a later report alone writes nothing');
    const changed = tracker.apply(at(3, event(3000, 'DOWN')));
    assert.equal(changed[0]?.health?.heardAt, 3000, 'a change carries the report that made it');
    assert.equal(tracker.served()[0]?.heardAt, 3000);
    // A node connected before its first report has no time yet.
    assert.ok(!('heardAt' in tracker.apply(at(4, { ...event(null), node: 'lon1-b' }))[0]!.health!));
  });
});
