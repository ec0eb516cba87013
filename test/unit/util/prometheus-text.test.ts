import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as prom from 'prom-client';
import { MetricsRegistry } from '../../../src/util/prometheus-text.js';

describe('prometheus-text (the agent metrics writer)', () => {
  test('renders the same exposition text as prom-client for the same series', async () => {
    const ours = new MetricsRegistry();
    const reference = new prom.Registry();
    const help = 'Whether the "last" probe \\ succeeded\nsecond line';
    const g = ours.gauge({ name: 'probe_success', help, labelNames: ['check', 'transport'] });
    const rg = new prom.Gauge({
      name: 'probe_success',
      help,
      labelNames: ['check', 'transport'],
      registers: [reference],
    });
    const c = ours.counter({ name: 'herald_flaps_total', help: 'Falls' });
    const rc = new prom.Counter({ name: 'herald_flaps_total', help: 'Falls', registers: [reference] });
    const h = ours.gauge({ name: 'herald_hold_down_seconds', help: 'Remaining' });
    new prom.Gauge({ name: 'herald_hold_down_seconds', help: 'Remaining', registers: [reference] });
    const odd = { check: 'we"ird\\name\nx', transport: 'tls' };
    for (const [labels, value] of [
      [{ check: 'sip-udp', transport: 'udp' }, 1],
      [odd, 0.0035],
      [{ check: 'sip-tcp', transport: 'tcp' }, -2.5e-7],
    ] as const) {
      g.set(labels, value);
      rg.set(labels, value);
    }
    c.inc();
    c.inc(2);
    rc.inc();
    rc.inc(2);
    assert.equal(ours.metrics(), await reference.metrics());
    // prom-client spells NaN "Nan"; the format (and Prometheus' own clients) write NaN.
    h.set(NaN);
    assert.match(ours.metrics(), /^herald_hold_down_seconds NaN$/m);
  });

  test('a collect callback is read on every scrape', () => {
    const registry = new MetricsRegistry();
    let active = 0;
    registry.gauge({ name: 'herald_panic_active', help: 'panic', collect: () => active });
    assert.match(registry.metrics(), /^herald_panic_active 0$/m);
    active = 1;
    assert.match(registry.metrics(), /^herald_panic_active 1$/m);
  });

  test('refuses unknown labels, negative increments and duplicate names, naming what it got', () => {
    const registry = new MetricsRegistry();
    const g = registry.gauge({ name: 'a', help: 'a', labelNames: ['check'] });
    assert.throws(() => g.set({ prefix: 'x' }, 1), /expected one of check, received "prefix"/);
    const c = registry.counter({ name: 'b', help: 'b' });
    assert.throws(() => c.inc(-1), /expected a non-negative increment, received -1/);
    assert.throws(() => registry.gauge({ name: 'a', help: 'again' }), /metric a: expected a unique name/);
  });
});
