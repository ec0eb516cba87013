/**
 * The safety policy as a table: fleets (sites, regions, node health) × drain requests →
 * allowed or refused, with the rules named and whether waiting could help.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PolicyConfig } from '../../../src/coordinator/config-schema.js';
import { evaluateDrain, type HoldRef } from '../../../src/coordinator/policy.js';
import type { DrainTarget, Override, PolicyRule } from '../../../src/wire/coordinator-api.js';

const P = '198.51.100.10/32';
const Q = '198.51.100.20/32';

/** up: announces P (and Q); down: reports, announces nothing; stale: no fresh report; p-only: announces P only. */
type NodeState = 'up' | 'down' | 'stale' | 'p-only';

interface Fleet {
  sites: { name: string; region: string; nodes: Record<string, NodeState> }[];
}

function build(fleet: Fleet) {
  const inventory = {
    sites: fleet.sites.map((s) => ({
      name: s.name,
      region: s.region,
      location: { lat: 0, lon: 0 },
      nodes: Object.keys(s.nodes),
    })),
  };
  const announcing = new Map<string, Set<string>>();
  const reporting = new Set<string>();
  for (const site of fleet.sites)
    for (const [node, state] of Object.entries(site.nodes)) {
      if (state !== 'stale') reporting.add(node);
      if (state === 'up') announcing.set(node, new Set([P, Q]));
      if (state === 'p-only') announcing.set(node, new Set([P]));
    }
  return { inventory, announcing, reporting };
}

const threeSites: Fleet = {
  sites: [
    { name: 'lon1', region: 'eu', nodes: { 'lon1-a': 'up', 'lon1-b': 'up' } },
    { name: 'fra1', region: 'eu', nodes: { 'fra1-a': 'up' } },
    { name: 'nyc1', region: 'us', nodes: { 'nyc1-a': 'up' } },
  ],
};

function withNode(fleet: Fleet, node: string, state: NodeState): Fleet {
  return {
    sites: fleet.sites.map((s) => (node in s.nodes ? { ...s, nodes: { ...s.nodes, [node]: state } } : s)),
  };
}

const fourSites: Fleet = {
  sites: [
    { name: 'lon1', region: 'eu', nodes: { 'lon1-a': 'up' } },
    { name: 'fra1', region: 'eu', nodes: { 'fra1-a': 'up' } },
    { name: 'nyc1', region: 'us', nodes: { 'nyc1-a': 'up' } },
    { name: 'sfo1', region: 'us', nodes: { 'sfo1-a': 'up' } },
  ],
};

const loose: Partial<PolicyConfig> = {
  minAnnouncingSites: 1,
  maxConcurrentDrains: 5,
  maxConcurrentDrainsPerRegion: 5,
};

interface Case {
  name: string;
  fleet: Fleet;
  policy?: Partial<PolicyConfig>;
  others?: HoldRef[];
  proposed: DrainTarget;
  overrides?: Override[];
  step?: 'start' | 'withdraw';
  allowed: boolean;
  /** Every rule expected in the violations (blocking or overridden), with retryable. */
  rules: Partial<Record<PolicyRule, { retryable: boolean; overridden?: boolean; mentions?: string[] }>>;
}

const hold = (id: string, target: DrainTarget, owner = 'bob'): HoldRef => ({ id, owner, target });

const cases: Case[] = [
  {
    name: 'healthy fleet, floor 2: draining one of three sites is allowed',
    fleet: threeSites,
    proposed: { site: 'lon1' },
    allowed: true,
    rules: {},
  },
  {
    name: 'a health withdrawal elsewhere counts toward the floor',
    fleet: withNode(threeSites, 'fra1-a', 'down'),
    proposed: { site: 'nyc1' },
    policy: { regionFloor: false },
    allowed: false,
    rules: {
      minAnnouncingSites: {
        retryable: true,
        mentions: ['fra1 (withdrawn by health)', 'below the floor of 2'],
      },
    },
  },
  {
    name: 'two-site fleet at floor 2: refused, and waiting cannot help',
    fleet: { sites: threeSites.sites.slice(0, 2) },
    proposed: { site: 'lon1' },
    policy: { regionFloor: false },
    allowed: false,
    rules: { minAnnouncingSites: { retryable: false, mentions: ['only 2 sites'] } },
  },
  {
    name: 'never the last announcing site of a region (the other one is down)',
    fleet: withNode(threeSites, 'fra1-a', 'down'),
    policy: { minAnnouncingSites: 1 },
    proposed: { site: 'lon1' },
    allowed: false,
    rules: { regionFloor: { retryable: true, mentions: ['last site of region eu'] } },
  },
  {
    name: 'the only site of a region: region floor, waiting cannot help',
    fleet: threeSites,
    policy: { minAnnouncingSites: 1 },
    proposed: { site: 'nyc1' },
    allowed: false,
    rules: { regionFloor: { retryable: false, mentions: ['only site of region us'] } },
  },
  {
    name: 'a drain in another region hits the global concurrency limit only',
    fleet: fourSites,
    policy: { minAnnouncingSites: 1, maxConcurrentDrains: 1 },
    others: [hold('d-1', { site: 'fra1' })],
    proposed: { site: 'nyc1' },
    allowed: false,
    rules: { maxConcurrentDrains: { retryable: true, mentions: ['fra1 (d-1 by bob)'] } },
  },
  {
    name: 'every blocking rule is named at once',
    fleet: fourSites,
    policy: { minAnnouncingSites: 1, maxConcurrentDrains: 1, maxConcurrentDrainsPerRegion: 1 },
    others: [hold('d-1', { site: 'fra1' })],
    proposed: { site: 'lon1' },
    allowed: false,
    rules: {
      maxConcurrentDrains: { retryable: true },
      maxConcurrentDrainsPerRegion: { retryable: true },
      regionFloor: { retryable: true, mentions: ['lon1 is the last site of region eu'] },
    },
  },
  {
    name: 'a second hold on a site already drained changes nothing: allowed',
    fleet: threeSites,
    policy: { maxConcurrentDrains: 1 },
    others: [hold('d-1', { site: 'lon1' })],
    proposed: { site: 'lon1' },
    allowed: true,
    rules: {},
  },
  {
    name: 'one node of a two-node site leaves the site announcing',
    fleet: threeSites,
    policy: { minAnnouncingSites: 3 },
    proposed: { site: 'lon1', node: 'lon1-a' },
    allowed: true,
    rules: {},
  },
  {
    name: 'both nodes of a site drained one by one: the second is refused at the floor',
    fleet: threeSites,
    policy: { minAnnouncingSites: 3, maxConcurrentDrains: 5 },
    others: [hold('d-1', { site: 'lon1', node: 'lon1-a' })],
    proposed: { site: 'lon1', node: 'lon1-b' },
    allowed: false,
    rules: { minAnnouncingSites: { retryable: true } },
  },
  {
    name: 'an override with a reason lets that rule pass and is recorded',
    fleet: withNode(threeSites, 'fra1-a', 'down'),
    policy: { minAnnouncingSites: 1 },
    proposed: { site: 'lon1' },
    overrides: [{ rule: 'regionFloor', reason: 'fra1 returns in minutes; emergency' }],
    allowed: true,
    rules: { regionFloor: { retryable: true, overridden: true } },
  },
  {
    name: 'overriding one rule does not lift another',
    fleet: withNode(threeSites, 'fra1-a', 'down'),
    proposed: { site: 'lon1' },
    overrides: [{ rule: 'regionFloor', reason: 'emergency work' }],
    allowed: false,
    rules: { regionFloor: { retryable: true, overridden: true }, minAnnouncingSites: { retryable: true } },
  },
  {
    name: 'no agent has reported yet: not knowing is treated as announcing, refused',
    fleet: {
      sites: threeSites.sites.map((s) => ({
        ...s,
        nodes: Object.fromEntries(Object.keys(s.nodes).map((n) => [n, 'stale' as const])),
      })),
    },
    proposed: { site: 'lon1' },
    policy: { regionFloor: false },
    allowed: false,
    rules: { minAnnouncingSites: { retryable: true, mentions: ['(any prefix)'] } },
  },
  {
    name: 'a stale node of the target is assumed announcing',
    fleet: withNode(withNode(threeSites, 'lon1-a', 'stale'), 'lon1-b', 'stale'),
    policy: { minAnnouncingSites: 3, regionFloor: false },
    proposed: { site: 'lon1' },
    allowed: false,
    rules: { minAnnouncingSites: { retryable: false, mentions: ['(fra1, nyc1)'] } },
  },
  {
    name: 'the withdraw step re-checks the floors but not concurrency',
    fleet: fourSites,
    policy: { minAnnouncingSites: 1, maxConcurrentDrains: 1 },
    others: [hold('d-1', { site: 'fra1' })],
    proposed: { site: 'nyc1' },
    step: 'withdraw',
    allowed: true,
    rules: {},
  },
  {
    name: 'a prefix drain is judged on that prefix only',
    fleet: withNode(withNode(threeSites, 'fra1-a', 'p-only'), 'nyc1-a', 'p-only'),
    policy: { ...loose, minAnnouncingSites: 2, regionFloor: false },
    proposed: { site: 'lon1', prefix: P },
    allowed: true,
    rules: {},
  },
  {
    name: 'a site drain is refused for the prefix that would fall below the floor, named',
    fleet: withNode(withNode(threeSites, 'fra1-a', 'p-only'), 'nyc1-a', 'p-only'),
    policy: { ...loose, minAnnouncingSites: 2, regionFloor: false },
    proposed: { site: 'lon1' },
    allowed: false,
    rules: { minAnnouncingSites: { retryable: true, mentions: [Q] } },
  },
];

describe('drain policy', () => {
  for (const c of cases) {
    it(c.name, () => {
      const { inventory, announcing, reporting } = build(c.fleet);
      const evaluation = evaluateDrain({
        policy: {
          minAnnouncingSites: 2,
          regionFloor: true,
          maxConcurrentDrains: 1,
          maxConcurrentDrainsPerRegion: 1,
          ...c.policy,
        },
        inventory,
        announcing,
        reporting,
        prefixes: [...new Set([...announcing.values()].flatMap((s) => [...s]))].sort(),
        others: c.others ?? [],
        proposed: c.proposed,
        overrides: c.overrides ?? [],
        step: c.step ?? 'start',
      });
      assert.equal(evaluation.allowed, c.allowed, JSON.stringify(evaluation.violations, null, 1));
      assert.deepEqual(evaluation.violations.map((v) => v.rule).sort(), Object.keys(c.rules).sort());
      for (const v of evaluation.violations) {
        const expected = c.rules[v.rule]!;
        assert.equal(v.retryable, expected.retryable, `${v.rule} retryable: ${v.message}`);
        assert.equal(v.overridden !== undefined, !!expected.overridden, `${v.rule} overridden`);
        for (const text of expected.mentions ?? [])
          assert.ok(v.message.includes(text), `"${v.message}" mentions "${text}"`);
      }
    });
  }
});
