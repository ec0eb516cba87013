/** The agent's probe_ssl_earliest_cert_expiry is Unix seconds, from the new wire field or an old report's. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AgentMetrics } from '../../../src/agent/metrics.js';
import { fixtureStatus } from '../dashboard/support/fleet-fixture.js';

const NOW_MS = Date.UTC(2026, 11, 5, 12, 0, 0);

function gaugeValue(text: string): number {
  const line = text.split('\n').find((l) => l.startsWith('probe_ssl_earliest_cert_expiry{check="sip-tls"'));
  assert.ok(line, text);
  return Number(line.split(' ').at(-1));
}

test('the gauge is the notAfter in Unix seconds, as blackbox_exporter exports it', () => {
  const metrics = new AgentMetrics();
  const status = fixtureStatus('lon1-a', 'lon1', { now: NOW_MS, certDays: 30 });
  metrics.update(status);
  const value = gaugeValue(metrics.registry.metrics());
  assert.equal(value, NOW_MS / 1000 + 30 * 86_400 + 3600);
  // Seconds, not milliseconds: 30 days from now, read the way PromQL's time() reads it.
  assert.equal(Math.round((value - NOW_MS / 1000) / 86_400), 30);
});

test("an old agent's certEarliestExpiry fills the same gauge", () => {
  const metrics = new AgentMetrics();
  const status = fixtureStatus('lon1-a', 'lon1', { now: NOW_MS });
  const tls = status.checks.find((c) => c.name === 'sip-tls')!;
  tls.certEarliestExpiry = tls.certNotAfterUnixSeconds;
  delete tls.certNotAfterUnixSeconds;
  metrics.update(status);
  assert.equal(gaugeValue(metrics.registry.metrics()), NOW_MS / 1000 + 64 * 86_400 + 3600);
});
