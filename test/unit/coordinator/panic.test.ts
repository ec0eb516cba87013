/**
 * Panic mode's decisions as tables: which sites count as fully healthy (from raw check results,
 * so a check panic lets a node ignore still counts as failing), and the engage/disengage
 * decision over shares × current state × hysteresis × the minimum duration × too few reports.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decidePanic,
  NO_PANIC,
  panicStatus,
  siteHealth,
  type PanicState,
  type SiteHealth,
} from '../../../src/coordinator/panic.js';
import type { NodeReport } from '../../../src/coordinator/model.js';
import type { CheckStatus } from '../../../src/wire/agent-status.js';
import { report } from './fixtures.js';

const config = { enabled: true, threshold: 0.5, margin: 0.1, minReportingShare: 0.5, minDuration: 30_000 };

/** `healthy` healthy sites, `failing` failing ones, `silent` not reporting. */
function fleet(healthy: number, failing: number, silent = 0): SiteHealth[] {
  const sites: SiteHealth[] = [];
  for (let i = 0; i < healthy; i++)
    sites.push({ site: `h${i}`, reporting: true, healthy: true, failing: [] });
  for (let i = 0; i < failing; i++)
    sites.push({ site: `f${i}`, reporting: true, healthy: false, failing: ['tls-cert'] });
  for (let i = 0; i < silent; i++)
    sites.push({ site: `s${i}`, reporting: false, healthy: false, failing: [] });
  return sites;
}

const engaged = (since: number): PanicState => ({ active: true, since, reason: 'earlier' });

describe('panic decision', () => {
  const NOW = 1_000_000;
  const table: {
    name: string;
    sites: SiteHealth[];
    current: PanicState;
    now?: number;
    expect: 'engaged' | 'disengaged' | 'stays on' | 'stays off';
  }[] = [
    // share = healthy / reporting; engage below 0.5; release at 0.6 or above
    { name: '4/4 healthy, off', sites: fleet(4, 0), current: NO_PANIC, expect: 'stays off' },
    {
      name: '2/4 healthy (exactly the threshold), off',
      sites: fleet(2, 2),
      current: NO_PANIC,
      expect: 'stays off',
    },
    { name: '1/4 healthy, off → engage', sites: fleet(1, 3), current: NO_PANIC, expect: 'engaged' },
    { name: '0/5 healthy, off → engage', sites: fleet(0, 5), current: NO_PANIC, expect: 'engaged' },
    { name: '1/3 healthy, off → engage', sites: fleet(1, 2), current: NO_PANIC, expect: 'engaged' },
    // hysteresis: in the band [threshold, threshold + margin) an engaged panic stays
    { name: '5/10 healthy, on (in the band)', sites: fleet(5, 5), current: engaged(0), expect: 'stays on' },
    { name: '2/4 healthy, on (in the band)', sites: fleet(2, 2), current: engaged(0), expect: 'stays on' },
    { name: '6/10 healthy, on → disengage', sites: fleet(6, 4), current: engaged(0), expect: 'disengaged' },
    { name: '3/4 healthy, on → disengage', sites: fleet(3, 1), current: engaged(0), expect: 'disengaged' },
    { name: '1/4 healthy, on', sites: fleet(1, 3), current: engaged(0), expect: 'stays on' },
    // minimum duration: recovered, but engaged only 10 s ago
    {
      name: '4/4 healthy, on for 10 s',
      sites: fleet(4, 0),
      current: engaged(NOW - 10_000),
      expect: 'stays on',
    },
    {
      name: '4/4 healthy, on for 30 s',
      sites: fleet(4, 0),
      current: engaged(NOW - 30_000),
      expect: 'disengaged',
    },
    // stale sites are left out of both counts: losing sight of the fleet is not a health fault
    { name: '2 healthy, 0 failing, 8 silent', sites: fleet(2, 0, 8), current: NO_PANIC, expect: 'stays off' },
    { name: '3 healthy, 2 failing, 5 silent', sites: fleet(3, 2, 5), current: NO_PANIC, expect: 'stays off' },
    {
      name: '2 healthy, 3 failing, 5 silent → engage',
      sites: fleet(2, 3, 5),
      current: NO_PANIC,
      expect: 'engaged',
    },
    // too few reports to tell a local fault from a fleet-wide one: nothing decided either way
    { name: '0 healthy, 2 failing, 8 silent', sites: fleet(0, 2, 8), current: NO_PANIC, expect: 'stays off' },
    {
      name: '4 healthy, 0 failing, 6 silent, on',
      sites: fleet(4, 0, 6),
      current: engaged(0),
      expect: 'stays on',
    },
    { name: 'nothing reports, on', sites: fleet(0, 0, 4), current: engaged(0), expect: 'stays on' },
    { name: 'nothing reports, off', sites: fleet(0, 0, 4), current: NO_PANIC, expect: 'stays off' },
  ];
  for (const row of table)
    it(row.name, () => {
      const decision = decidePanic(config, row.current, row.sites, row.now ?? NOW);
      const outcome = decision.transition ?? (decision.state.active ? 'stays on' : 'stays off');
      assert.equal(outcome, row.expect, decision.why);
      if (decision.transition === 'engaged') {
        assert.equal(decision.state.since, NOW);
        assert.match(
          decision.state.reason!,
          /below the panic threshold of 50%; failing: tls-cert on \d+ sites?/,
        );
      }
      if (decision.transition === 'disengaged') assert.deepEqual(decision.state, NO_PANIC);
      if (!decision.transition) assert.equal(decision.state, row.current);
    });

  it('the minimum duration follows the monotonic hold time when given, not a stepped wall clock', () => {
    // Engaged 10 s ago by the monotonic clock; the wall clock then stepped a day forward (or an
    // hour back): the fleet recovered, but panic must stay its 30 s, and end once they passed.
    for (const now of [NOW + 24 * 3_600_000, NOW - 3_600_000]) {
      const held = decidePanic(config, engaged(NOW - 10_000), fleet(4, 0), now, 10_000);
      assert.equal(held.transition, null, held.why);
      assert.match(held.why, /engaged 10000 ms ago/);
      assert.equal(
        decidePanic(config, engaged(NOW - 10_000), fleet(4, 0), now, 30_000).transition,
        'disengaged',
      );
    }
  });

  it('a share that wobbles around the threshold engages once and does not flap', () => {
    let state: PanicState = NO_PANIC;
    const transitions: string[] = [];
    // healthy sites out of 10, one evaluation per second
    const series = [10, 6, 5, 4, 5, 4, 5, 5, 4, 5, 5, 5];
    series.forEach((healthy, second) => {
      const decision = decidePanic(config, state, fleet(healthy, 10 - healthy), second * 1000);
      state = decision.state;
      if (decision.transition) transitions.push(`${second}:${decision.transition}`);
    });
    assert.deepEqual(transitions, ['3:engaged']);
    assert.equal(state.active, true);
    // back at 6/10 once the minimum duration has passed
    const later = decidePanic(config, state, fleet(6, 4), 3000 + 30_000);
    assert.equal(later.transition, 'disengaged');
  });

  it('disabled: never engages, and an engaged (restored) panic is cleared', () => {
    const off = { ...config, enabled: false };
    assert.equal(decidePanic(off, NO_PANIC, fleet(0, 5), NOW).transition, null);
    assert.equal(decidePanic(off, engaged(NOW - 1), fleet(0, 5), NOW).transition, 'disengaged');
  });

  it('threshold 0 never engages; margin is capped so threshold 1 can release at 100%', () => {
    assert.equal(decidePanic({ ...config, threshold: 0 }, NO_PANIC, fleet(0, 5), NOW).transition, null);
    const full = { ...config, threshold: 0.95, margin: 0.05 };
    assert.equal(decidePanic(full, engaged(0), fleet(19, 1), NOW).transition, null);
    assert.equal(decidePanic(full, engaged(0), fleet(20, 0), NOW).transition, 'disengaged');
  });
});

function check(name: string, status: CheckStatus['status'], extra: Partial<CheckStatus> = {}): CheckStatus {
  return {
    name,
    type: name === 'proxy' ? 'tcp' : 'tls',
    status,
    detail: status,
    durationMs: 1,
    at: 0,
    answered: status !== 'down',
    failOpen: name !== 'proxy',
    ...extra,
  };
}

function withChecks(node: string, site: string, checks: CheckStatus[], receivedAt = 1000): NodeReport {
  const r = report(node, site, [], { receivedAt });
  return { ...r, status: { ...r.status, checks } };
}

describe('site health from reports', () => {
  const inventory = {
    sites: [
      { name: 'lon1', region: 'eu', location: { lat: 0, lon: 0 }, nodes: ['lon1-a', 'lon1-b'] },
      { name: 'fra1', region: 'eu', location: { lat: 0, lon: 0 }, nodes: ['fra1-a'] },
      { name: 'ams1', region: 'eu', location: { lat: 0, lon: 0 }, nodes: ['ams1-a'] },
      { name: 'nyc1', region: 'us', location: { lat: 0, lon: 0 }, nodes: ['nyc1-a'] },
    ],
  };

  it('a site is healthy when one fresh node passes every check; ignored checks count as failing', () => {
    const reports = new Map<string, NodeReport>([
      // lon1: one node fails the certificate, the other passes everything
      ['lon1-a', withChecks('lon1-a', 'lon1', [check('proxy', 'up'), check('tls-cert', 'down')])],
      ['lon1-b', withChecks('lon1-b', 'lon1', [check('proxy', 'up'), check('tls-cert', 'warn')])],
      // fra1: announcing only because panic ignores its certificate check
      [
        'fra1-a',
        withChecks('fra1-a', 'fra1', [
          check('proxy', 'up'),
          check('tls-cert', 'warn', { panicIgnored: true, detail: 'panic: ignored (expired)' }),
        ]),
      ],
      // ams1: healthy but stale
      ['ams1-a', withChecks('ams1-a', 'ams1', [check('proxy', 'up'), check('tls-cert', 'up')], 0)],
      // nyc1: just started, nothing probed yet: unknown, like a stale node
      ['nyc1-a', withChecks('nyc1-a', 'nyc1', [check('proxy', 'pending'), check('tls-cert', 'pending')])],
    ]);
    const sites = siteHealth(inventory, reports, (node) => node === 'ams1-a');
    assert.deepEqual(sites, [
      { site: 'lon1', reporting: true, healthy: true, failing: [] },
      { site: 'fra1', reporting: true, healthy: false, failing: ['tls-cert'] },
      { site: 'ams1', reporting: false, healthy: false, failing: [] },
      { site: 'nyc1', reporting: false, healthy: false, failing: [] },
    ]);
    const status = panicStatus(config, NO_PANIC, sites, []);
    assert.equal(status.healthySites, 1);
    assert.equal(status.reportingSites, 2);
    assert.equal(status.releaseAt, 0.6);
    assert.deepEqual(
      status.failing.map((f) => f.site),
      ['fra1'],
    );
  });

  it('a report without checks, or with a check not probed yet, proves nothing either way', () => {
    const reports = new Map([
      ['lon1-a', withChecks('lon1-a', 'lon1', [])],
      ['fra1-a', withChecks('fra1-a', 'fra1', [check('proxy', 'down'), check('tls-cert', 'pending')])],
    ]);
    const [lon1, fra1] = siteHealth(inventory, reports, () => false);
    assert.deepEqual(lon1, { site: 'lon1', reporting: false, healthy: false, failing: [] });
    assert.deepEqual(fra1, { site: 'fra1', reporting: false, healthy: false, failing: [] });
  });

  it('a fleet starting up (every check pending) does not engage panic', () => {
    const starting = new Map(
      ['lon1-a', 'fra1-a', 'ams1-a', 'nyc1-a'].map((node) => [
        node,
        withChecks(node, node.slice(0, 4), [check('proxy', 'pending'), check('tls-cert', 'pending')]),
      ]),
    );
    const sites = siteHealth(inventory, starting, () => false);
    assert.equal(decidePanic(config, NO_PANIC, sites, 0).transition, null);
  });
});
