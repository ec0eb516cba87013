/**
 * The lab's shape as plain data: regions, PoPs and their nodes. The default is the demo's
 * three PoPs in two regions; tests build smaller ones (one PoP, one node) for speed.
 */

export interface RegionSpec {
  /** Region name, e.g. "eu". Each region gets one upstream BIRD router and one client namespace. */
  name: string;
}

export interface PopSpec {
  /** PoP (site) name, e.g. "lon1". */
  name: string;
  /** The region the PoP belongs to; its router prefers this PoP. */
  region: string;
  /** Node names, e.g. ["lon1-a", "lon1-b"]. */
  nodes: string[];
}

export interface LabTopology {
  regions: RegionSpec[];
  pops: PopSpec[];
  /** Also announce the IPv6 anycast /128 over IPv6 BGP sessions. */
  ipv6: boolean;
  /** The upstream routers' software: BIRD 2 (default) or FRR (`herald lab up --router frr`). */
  router?: 'bird' | 'frr';
}

/** The demo: lon1 (two nodes) and ams1 in eu, nyc1 in us. */
export function defaultTopology(): LabTopology {
  return {
    regions: [{ name: 'eu' }, { name: 'us' }],
    pops: [
      { name: 'lon1', region: 'eu', nodes: ['lon1-a', 'lon1-b'] },
      { name: 'ams1', region: 'eu', nodes: ['ams1-a'] },
      { name: 'nyc1', region: 'us', nodes: ['nyc1-a'] },
    ],
    ipv6: true,
  };
}

/** The smallest useful lab: one region, one PoP, one node. */
export function singleNodeTopology(options: { ipv6?: boolean } = {}): LabTopology {
  return {
    regions: [{ name: 'eu' }],
    pops: [{ name: 'lon1', region: 'eu', nodes: ['lon1-a'] }],
    ipv6: options.ipv6 ?? false,
  };
}

/** Two PoPs in one region plus one in another, one node each: enough to watch traffic move. */
export function failoverTopology(options: { ipv6?: boolean } = {}): LabTopology {
  return {
    regions: [{ name: 'eu' }, { name: 'us' }],
    pops: [
      { name: 'lon1', region: 'eu', nodes: ['lon1-a'] },
      { name: 'ams1', region: 'eu', nodes: ['ams1-a'] },
      { name: 'nyc1', region: 'us', nodes: ['nyc1-a'] },
    ],
    ipv6: options.ipv6 ?? false,
  };
}

const NAME = /^[a-z][a-z0-9-]{0,30}$/;
export const MAX_LAB_NODES = 28;

/** Checks a topology; throws naming the field, what was expected and what was received. */
export function validateTopology(topology: LabTopology): LabTopology {
  const problems: string[] = [];
  if (topology.regions.length === 0) problems.push('regions: expected at least 1 region, received 0');
  if (topology.regions.length > 8)
    problems.push(`regions: expected at most 8 regions, received ${topology.regions.length}`);
  const regionNames = new Set<string>();
  topology.regions.forEach((region, index) => {
    if (!NAME.test(region.name))
      problems.push(`regions.${index}.name: expected a short lower-case name, received "${region.name}"`);
    if (regionNames.has(region.name))
      problems.push(`regions.${index}.name: expected a unique name, received "${region.name}" twice`);
    regionNames.add(region.name);
  });
  if (topology.pops.length === 0) problems.push('pops: expected at least 1 PoP, received 0');
  const names = new Set<string>();
  let nodeCount = 0;
  topology.pops.forEach((pop, index) => {
    if (!NAME.test(pop.name))
      problems.push(`pops.${index}.name: expected a short lower-case name, received "${pop.name}"`);
    if (!regionNames.has(pop.region))
      problems.push(
        `pops.${index}.region: expected one of ${[...regionNames].join(', ')}, received "${pop.region}"`,
      );
    if (names.has(pop.name))
      problems.push(`pops.${index}.name: expected a name not used before, received "${pop.name}"`);
    names.add(pop.name);
    if (pop.nodes.length === 0) problems.push(`pops.${index}.nodes: expected at least 1 node, received 0`);
    pop.nodes.forEach((node, nodeIndex) => {
      nodeCount++;
      if (!NAME.test(node))
        problems.push(
          `pops.${index}.nodes.${nodeIndex}: expected a short lower-case name, received "${node}"`,
        );
      if (names.has(node))
        problems.push(
          `pops.${index}.nodes.${nodeIndex}: expected a name not used before, received "${node}"`,
        );
      names.add(node);
    });
  });
  // The management /27 holds 28 addresses for nodes (see plan.ts).
  if (nodeCount > MAX_LAB_NODES)
    problems.push(`pops: expected at most ${MAX_LAB_NODES} nodes in all, received ${nodeCount}`);
  if (problems.length) throw new Error(`invalid lab topology:\n  ${problems.join('\n  ')}`);
  return topology;
}
