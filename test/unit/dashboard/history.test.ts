/**
 * The dashboard history's sampling: check latency read from the agents' reports every tick, the
 * site states from the fleet document on events (and on a slow backstop timer), so a quiet
 * coordinator does not rebuild the whole fleet document every two seconds.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { DashboardHistory, type HistorySource } from '../../../src/dashboard/history.js';
import type { AgentStatus } from '../../../src/wire/agent-status.js';
import type { FleetStatus } from '../../../src/wire/coordinator-api.js';
import { fixtureStatus } from './support/fleet-fixture.js';
import { fleet, nodeStatus, siteStatus } from './support/fleet-documents.js';

const UP = fleet([siteStatus('lon1', 'eu', [nodeStatus('lon1-a')])]);
const DOWN = fleet([siteStatus('lon1', 'eu', [nodeStatus('lon1-a', { ack: 'withdraw', state: 'DOWN' })])]);

class FakeSource implements HistorySource {
  fleet: FleetStatus = UP;
  report: AgentStatus;
  statusCalls = 0;
  private listeners = new Set<() => void>();

  constructor(now: number) {
    this.report = fixtureStatus('lon1-a', 'lon1', { now, latencyMs: 4, healthy: true });
  }

  status(): FleetStatus {
    this.statusCalls++;
    return this.fleet;
  }

  reports(): Iterable<{ status: AgentStatus; receivedAt: number }> {
    return [{ status: this.report, receivedAt: 0 }];
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(): void {
    for (const listener of this.listeners) listener();
  }
}

describe('DashboardHistory sampling', () => {
  let now = 1_000_000;
  let history: DashboardHistory | undefined;
  beforeEach(() => {
    mock.timers.enable({ apis: ['setInterval', 'setTimeout'] });
  });
  afterEach(() => {
    history?.stop();
    mock.timers.reset();
  });
  const advance = (ms: number): void => {
    now += ms;
    mock.timers.tick(ms);
  };

  test('records every new probe result each tick without building the fleet document again', () => {
    const source = new FakeSource(now);
    history = new DashboardHistory(source, { clock: () => now, sampleEveryMs: 2000, statesEveryMs: 30_000 });
    assert.equal(source.statusCalls, 1, 'one fleet sample at start');
    for (const latencyMs of [6, 8, 10]) {
      advance(2000);
      source.report = fixtureStatus('lon1-a', 'lon1', { now, latencyMs, healthy: true });
    }
    advance(2000);
    const points = history.latency.snapshot(['lon1-a'], now).nodes['lon1-a']!['sip-udp']!;
    // The last result (10 ms) reached the history through a tick, not the start's sample.
    assert.equal(Math.max(...points.map(([, , max]) => max)), 10, JSON.stringify(points));
    assert.equal(source.statusCalls, 1, 'no fleet document built on quiet ticks');
  });

  test("a site's change that comes with an event is recorded at once (after the burst gap)", () => {
    const source = new FakeSource(now);
    history = new DashboardHistory(source, { clock: () => now, minSampleGapMs: 250, statesEveryMs: 30_000 });
    advance(1000);
    source.fleet = DOWN;
    source.emit();
    advance(250);
    assert.deepEqual(history.states.snapshot(now).sites['lon1']?.at(-1)?.[1], 'down');
  });

  test('a change without an event is caught by the backstop within statesEveryMs', () => {
    const source = new FakeSource(now);
    history = new DashboardHistory(source, { clock: () => now, sampleEveryMs: 2000, statesEveryMs: 10_000 });
    source.fleet = DOWN;
    advance(8000);
    assert.equal(history.states.snapshot(now).sites['lon1']?.at(-1)?.[1], 'announcing', 'not yet');
    advance(2000);
    assert.equal(history.states.snapshot(now).sites['lon1']?.at(-1)?.[1], 'down');
  });
});
