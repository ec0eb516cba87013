/**
 * Hold stacking: every drain is a hold with an owner; a node is asked to drain while any hold
 * covers it; releasing one hold never clears another.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  desiredDrainsByNode,
  desiredDrainsForNode,
  holdsOnSite,
  holdsToRelease,
} from '../../../src/coordinator/holds.js';
import type { DrainRecord } from '../../../src/coordinator/model.js';
import { drainRecord } from './fixtures.js';

const inventory = {
  sites: [
    { name: 'lon1', region: 'eu', location: { lat: 0, lon: 0 }, nodes: ['lon1-a', 'lon1-b'] },
    { name: 'fra1', region: 'eu', location: { lat: 0, lon: 0 }, nodes: ['fra1-a'] },
  ],
};

function release(drains: DrainRecord[], id: string): DrainRecord[] {
  return drains.map((d) => (d.id === id ? { ...d, status: 'released' as const } : d));
}

const ids = (drains: DrainRecord[], node: string) =>
  desiredDrainsForNode(inventory, drains, node).map((d) => d.id);

describe('hold stacking', () => {
  const alice = drainRecord('d-alice', { site: 'lon1' }, { owner: 'alice', createdAt: 1 });
  const bob = drainRecord('d-bob', { site: 'lon1' }, { owner: 'bob', createdAt: 2 });

  it('two owners draining one site make two holds on every node of it', () => {
    assert.deepEqual(ids([alice, bob], 'lon1-a'), ['d-alice', 'd-bob']);
    assert.deepEqual(ids([alice, bob], 'lon1-b'), ['d-alice', 'd-bob']);
    assert.deepEqual(ids([alice, bob], 'fra1-a'), []);
    assert.deepEqual(
      holdsOnSite([alice, bob], 'lon1').map((d) => d.owner),
      ['alice', 'bob'],
    );
  });

  it('releasing one hold leaves the other in force; the site returns only when both are released', () => {
    const afterAlice = release([alice, bob], 'd-alice');
    assert.deepEqual(ids(afterAlice, 'lon1-a'), ['d-bob']);
    assert.deepEqual(ids(release(afterAlice, 'd-bob'), 'lon1-a'), []);
  });

  it("a release by target takes only the caller's own hold", () => {
    assert.deepEqual(
      holdsToRelease([alice, bob], 'alice', { site: 'lon1' }).map((d) => d.id),
      ['d-alice'],
    );
    assert.deepEqual(holdsToRelease([alice, bob], 'carol', { site: 'lon1' }), []);
    // A node-level hold is not released by a site-level undrain (and vice versa).
    const node = drainRecord('d-node', { site: 'lon1', node: 'lon1-a' }, { owner: 'alice' });
    assert.deepEqual(
      holdsToRelease([alice, node], 'alice', { site: 'lon1', node: 'lon1-a' }).map((d) => d.id),
      ['d-node'],
    );
  });

  it('node and prefix holds reach only their node, carrying the prefix, hold and phase', () => {
    const node = drainRecord(
      'd-n',
      { site: 'lon1', node: 'lon1-b', prefix: '198.51.100.10/32' },
      { holdMs: 5000, phase: 'withdraw' },
    );
    assert.deepEqual(desiredDrainsForNode(inventory, [node], 'lon1-a'), []);
    assert.deepEqual(desiredDrainsForNode(inventory, [node], 'lon1-b'), [
      {
        id: 'd-n',
        reason: 'reason of d-n',
        owner: 'alice',
        prefixes: ['198.51.100.10/32'],
        holdMs: 5000,
        phase: 'withdraw',
      },
    ]);
  });
});

describe('desired drains for the whole fleet', () => {
  it('matches the per-node answer for every node', () => {
    const drains = [
      drainRecord('d-2', { site: 'lon1', node: 'lon1-b' }, { createdAt: 5 }),
      drainRecord('d-1', { site: 'lon1' }, { createdAt: 1 }),
      drainRecord('d-3', { site: 'fra1' }, { createdAt: 3, status: 'released' }),
    ];
    const all = desiredDrainsByNode(inventory, drains);
    for (const node of ['lon1-a', 'lon1-b', 'fra1-a'])
      assert.deepEqual(all.get(node), desiredDrainsForNode(inventory, drains, node), node);
    assert.deepEqual(
      all.get('lon1-b')!.map((d) => d.id),
      ['d-1', 'd-2'],
    );
  });
});
