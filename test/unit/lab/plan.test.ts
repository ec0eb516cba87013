/** The lab's addressing plan: names that fit the kernel's limits, no address used twice. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { overlaps } from '../../../src/lab/network.js';
import { findNode, MANAGEMENT_SUBNETS, newRunId, planLab } from '../../../src/lab/plan.js';
import { defaultTopology, singleNodeTopology, type LabTopology } from '../../../src/lab/topology.js';

describe('planLab', () => {
  it('lays out the demo: 3 PoPs in 2 regions, lon1 with two nodes, one router and client per region', () => {
    const plan = planLab(defaultTopology(), 'k3x9qa');
    assert.deepEqual(
      plan.nodes.map((n) => [n.name, n.site, n.region]),
      [
        ['lon1-a', 'lon1', 'eu'],
        ['lon1-b', 'lon1', 'eu'],
        ['ams1-a', 'ams1', 'eu'],
        ['nyc1-a', 'nyc1', 'us'],
      ],
    );
    assert.deepEqual(
      plan.routers.map((r) => r.region),
      ['eu', 'us'],
    );
    assert.deepEqual(
      plan.clients.map((c) => c.region),
      ['eu', 'us'],
    );
    assert.equal(findNode(plan, 'lon1-a').asn, findNode(plan, 'lon1-b').asn, 'nodes of a PoP share its AS');
    assert.notEqual(findNode(plan, 'lon1-a').asn, findNode(plan, 'ams1-a').asn);
    assert.ok(plan.namespaces.every((ns) => ns.startsWith('hl-k3x9qa-')));
    assert.equal(plan.anycast.ipv6, '2001:db8:a::10');
  });

  it('builds a one-node lab without IPv6', () => {
    const plan = planLab(singleNodeTopology(), 'a1');
    assert.equal(plan.nodes.length, 1);
    assert.equal(plan.routers.length, 1);
    assert.equal(plan.anycast.ipv6, undefined);
    assert.equal(plan.nodes[0]!.birdProtocols.ipv6, undefined);
    assert.equal(plan.namespaces.length, 4, 'fabric, router, client, node');
  });

  it('never reuses a name or an address, and keeps interface names within 15 characters', () => {
    const topologies = fc.record({
      regionCount: fc.integer({ min: 1, max: 8 }),
      pops: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 7 }),
    });
    fc.assert(
      fc.property(
        topologies,
        fc.stringMatching(/^[a-z0-9]{1,8}$/),
        fc.constantFrom(...MANAGEMENT_SUBNETS),
        ({ regionCount, pops }, runId, subnet) => {
          const regions = Array.from({ length: regionCount }, (_, i) => ({ name: `r${i}` }));
          const topology: LabTopology = {
            regions,
            pops: pops.map((nodes, i) => ({
              name: `pop${i}`,
              region: regions[i % regionCount]!.name,
              nodes: Array.from({ length: nodes }, (_, n) => `pop${i}-${String.fromCharCode(97 + n)}`),
            })),
            ipv6: true,
          };
          const plan = planLab(topology, runId, subnet);
          const addresses = [
            ...plan.nodes.flatMap((n) => [n.ipv4, n.ipv6]),
            ...plan.routers.flatMap((r) => [r.ipv4, r.ipv6, r.clientGateway4, r.clientGateway6]),
            ...plan.clients.flatMap((c) => [c.ipv4, c.ipv6]),
            plan.host.ipv4,
          ];
          assert.equal(new Set(addresses).size, addresses.length, 'addresses are unique');
          assert.equal(new Set(plan.namespaces).size, plan.namespaces.length, 'namespaces are unique');
          const ports = [...plan.nodes.map((n) => n.bridgePort), ...plan.routers.map((r) => r.bridgePort)];
          assert.equal(new Set(ports).size, ports.length, 'bridge ports are unique');
          for (const name of [...ports, plan.host.ifName, plan.host.peerIfName, plan.fabric.bridge])
            assert.ok(name.length <= 15, `${name} fits IFNAMSIZ`);
          const protocols = plan.nodes.flatMap((n) => [n.birdProtocols.ipv4, n.birdProtocols.ipv6]);
          assert.equal(new Set(protocols).size, protocols.length, 'BIRD protocol names are unique');
          for (const protocol of protocols) assert.match(protocol ?? '', /^[a-z][a-z0-9_]*$/);
          assert.ok(plan.nodes.every((n) => /^192\.0\.2\.\d+$/.test(n.ipv4)));
          const managementAddresses = [
            ...plan.nodes.map((n) => n.managementIpv4),
            plan.management.relayIpv4,
            plan.host.ipv4,
          ];
          assert.equal(new Set(managementAddresses).size, managementAddresses.length);
          for (const address of managementAddresses)
            assert.ok(overlaps(address, plan.management.subnet4), `${address} in ${plan.management.subnet4}`);
          assert.ok(!overlaps(plan.anycast.ipv4, plan.management.subnet4));
          for (const router of plan.routers)
            assert.ok(!overlaps(router.clientSubnet4, plan.management.subnet4));
          assert.ok(plan.clients.every((c) => /^203\.0\.113\.\d+$/.test(c.ipv4)));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses a broken topology naming the field', () => {
    assert.throws(
      () =>
        planLab(
          { regions: [{ name: 'eu' }], pops: [{ name: 'lon1', region: 'us', nodes: ['a'] }], ipv6: false },
          'x',
        ),
      /pops\.0\.region: expected one of eu, received "us"/,
    );
    assert.throws(
      () =>
        planLab(
          {
            regions: [{ name: 'eu' }],
            pops: [
              { name: 'lon1', region: 'eu', nodes: ['n1'] },
              { name: 'ams1', region: 'eu', nodes: ['n1'] },
            ],
            ipv6: false,
          },
          'x',
        ),
      /pops\.1\.nodes\.0: expected a name not used before, received "n1"/,
    );
    assert.throws(() => planLab(singleNodeTopology(), 'Bad-Id'), /runId: expected 1-8 lower-case/);
    assert.throws(() => findNode(planLab(singleNodeTopology(), 'x'), 'nope'), /expected one of lon1-a/);
  });

  it('makes short, distinct run ids', () => {
    const ids = new Set(Array.from({ length: 200 }, () => newRunId()));
    assert.ok(ids.size > 190);
    for (const id of ids) assert.match(id, /^[a-z0-9]{6}$/);
  });
});
