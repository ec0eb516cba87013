/**
 * The fleet document's per-node `holdDown`: a fresh report of an agent held down by flap damping
 * gives when the hold-down ends (on the coordinator's wall clock) and how many flaps; a node not
 * held down, or whose last report is stale, gives none (an old hold-down is not a current one).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeReport } from '../../../src/coordinator/model.js';
import type { NodeHealth } from '../../../src/coordinator/replicas/health-board.js';
import { policySchema } from '../../../src/coordinator/config-schema.js';
import { fleetStatus, type StatusContext } from '../../../src/coordinator/views.js';
import type { NodeStatus } from '../../../src/wire/coordinator-api.js';
import { report } from './fixtures.js';

const PREFIX = '198.51.100.10/32';
const STALE_AFTER_MS = 15_000;

const inventory = {
  sites: [{ name: 'lon1', region: 'eu', location: { lat: 0, lon: 0 }, nodes: ['lon1-a', 'lon1-b'] }],
};

/** What a held-down agent sends: checks pass, RISING, the prefix withdrawn, the hold-down active. */
function heldDownReport(node: string, receivedAt: number, remainingMs: number, flaps: number): NodeReport {
  const held = report(
    node,
    'lon1',
    [{ prefix: PREFIX, desired: 'withdraw', acknowledged: 'withdraw', state: 'RISING' }],
    {
      healthy: true,
      receivedAt,
    },
  );
  held.status.state = 'RISING';
  held.status.holdDown = { active: true, remainingMs, penalty: 2400, flaps };
  return held;
}

function nodesAt(reports: NodeReport[], now: number): Map<string, NodeStatus> {
  const ctx: StatusContext = {
    inventory,
    reports: new Map(reports.map((r) => [r.status.node, r])),
    drains: [],
    observerConfigured: false,
    staleAfterMs: STALE_AFTER_MS,
    now,
    monotonicNow: now,
    policy: policySchema.parse({}),
    connected: () => true,
    revisionOf: () => null,
  };
  return new Map(fleetStatus(ctx).sites.flatMap((s) => s.nodes.map((n) => [n.name, n])));
}

describe('fleet status: the per-node flap hold-down', () => {
  it('a fresh report held down gives {until, flaps}: when it was received plus the time left', () => {
    const nodes = nodesAt(
      [
        heldDownReport('lon1-a', 50_000, 90_000, 5),
        report('lon1-b', 'lon1', [{ prefix: PREFIX, desired: 'announce', acknowledged: 'announce' }], {
          receivedAt: 50_000,
        }),
      ],
      52_000,
    );
    const held = nodes.get('lon1-a')!;
    assert.deepEqual(held.holdDown, { until: 140_000, flaps: 5 });
    // Apart from health: its checks still pass.
    assert.equal(held.healthy, true);
    assert.deepEqual(held.announcing, []);
    assert.equal(nodes.get('lon1-b')!.holdDown, undefined);
    assert.ok(!('holdDown' in nodes.get('lon1-b')!), 'a node not held down has no holdDown field');
  });

  it('a stale report gives none, even if it said held down', () => {
    const nodes = nodesAt([heldDownReport('lon1-a', 50_000, 600_000, 7)], 50_000 + STALE_AFTER_MS + 1);
    const held = nodes.get('lon1-a')!;
    assert.equal(held.stale, true);
    assert.ok(!('holdDown' in held), JSON.stringify(held.holdDown));
  });

  it('a node that never reported has none', () => {
    const nodes = nodesAt([], 1000);
    assert.ok(!('holdDown' in nodes.get('lon1-a')!));
  });
});

describe('fleet status on a replica that does not serve the agent', () => {
  const board = (stale: boolean): NodeHealth => ({
    node: 'lon1-b',
    site: 'lon1',
    replica: 'coord-b',
    state: 'UP',
    healthy: true,
    announcing: [PREFIX],
    stale,
    drainStage: null,
    ...(stale
      ? {}
      : {
          drainState: {
            prefixes: [
              {
                prefix: PREFIX,
                state: 'UP',
                desired: 'announce',
                acknowledged: 'announce',
                acknowledgedAt: 1,
                drainedBy: [],
              },
            ],
            drains: [],
          },
        }),
  });
  const statusWith = (
    entry: NodeHealth | undefined,
    reports: NodeReport[] = [],
    lastHeardElsewhere?: StatusContext['lastHeardElsewhere'],
  ) =>
    fleetStatus({
      inventory,
      reports: new Map(reports.map((r) => [r.status.node, r])),
      drains: [],
      observerConfigured: false,
      staleAfterMs: STALE_AFTER_MS,
      now: 60_000,
      monotonicNow: 60_000,
      policy: policySchema.parse({}),
      connected: () => false,
      revisionOf: () => null,
      servedElsewhere: (node) => (node === entry?.node ? entry : undefined),
      ...(lastHeardElsewhere ? { lastHeardElsewhere } : {}),
    });

  it('shows a node another replica serves as that replica shares it, and counts its site as announcing', () => {
    const status = statusWith(board(false));
    const node = status.sites[0]!.nodes.find((n) => n.name === 'lon1-b')!;
    assert.equal(node.servedBy, 'coord-b');
    assert.equal(node.stale, false);
    assert.equal(node.state, 'UP');
    assert.deepEqual(node.announcing, [PREFIX]);
    assert.deepEqual(
      node.prefixes.map((p) => p.acknowledged),
      ['announce'],
    );
    assert.equal(status.announcingSites, 1);
    const unseen = status.sites[0]!.nodes.find((n) => n.name === 'lon1-a')!;
    assert.equal(unseen.servedBy, undefined, 'a node nobody shares stays never seen');
    assert.equal(unseen.lastSeenAt, null);
  });

  it('a stale board entry announces nothing, and a fresh local report wins over the board', () => {
    const stale = statusWith(board(true));
    assert.equal(stale.announcingSites, 0);
    assert.equal(stale.sites[0]!.nodes.find((n) => n.name === 'lon1-b')!.servedBy, undefined);
    const local = statusWith(board(false), [
      report('lon1-b', 'lon1', [{ prefix: PREFIX, desired: 'withdraw', acknowledged: 'withdraw' }], {
        receivedAt: 59_000,
      }),
    ]);
    const node = local.sites[0]!.nodes.find((n) => n.name === 'lon1-b')!;
    assert.equal(node.servedBy, undefined);
    assert.deepEqual(node.announcing, []);
  });

  it("gives the agent's last report as shared for its last-seen time, never the time of the read", () => {
    const lastSeen = (status: ReturnType<typeof statusWith>) =>
      status.sites[0]!.nodes.find((n) => n.name === 'lon1-b')!.lastSeenAt;
    // The read is at 60 s; the entry was written with the report of 41 s; the serving replica's
    // heard key says 52 s.
    const entry = { ...board(false), heardAt: 41_000 };
    assert.equal(lastSeen(statusWith(entry, [], () => 52_000)), 52_000);
    assert.equal(lastSeen(statusWith(entry)), 41_000, 'without heard keys: the time the entry carries');
    // An entry from an older replica carries no time: the read's, as before, so a rolling upgrade
    // does not show its nodes as never reported (and stale on the page).
    assert.equal(lastSeen(statusWith(board(false))), 60_000);
  });

  it('a node gone stale on the replica serving it shows when that replica last heard it, not "never"', () => {
    const lon1b = (status: ReturnType<typeof statusWith>) =>
      status.sites[0]!.nodes.find((n) => n.name === 'lon1-b')!;
    const entry = { ...board(true), heardAt: 30_000 };
    const stale = lon1b(statusWith(entry));
    assert.equal(stale.stale, true);
    assert.equal(stale.lastSeenAt, 30_000);
    assert.equal(lon1b(statusWith(entry, [], () => 38_000)).lastSeenAt, 38_000);
    // An older report of its own (the agent was connected here before): the later of the two.
    const older = report('lon1-b', 'lon1', [], { receivedAt: 20_000 });
    assert.equal(lon1b(statusWith(entry, [older])).lastSeenAt, 30_000);
    const newer = report('lon1-b', 'lon1', [], { receivedAt: 35_000 });
    assert.equal(lon1b(statusWith(entry, [newer])).lastSeenAt, 35_000);
  });
});
