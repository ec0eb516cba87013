/**
 * Turns a topology and a run id into the lab's plan: namespace and interface names, addresses,
 * AS numbers and BIRD protocol names. Pure, so the addressing is unit-tested and the same plan
 * can be rebuilt from the state file by `herald lab status|fault|down`.
 *
 * Addressing (documentation prefixes only):
 *   fabric     192.0.2.0/24, 2001:db8:f::/64 — routers .1.., nodes .11..
 *   management one of eight /27s in the upper halves of 198.51.100.0/24 and 203.0.113.0/24, on
 *              the same bridge — nodes .1.., the control relay .29 (on the bridge), the host .30
 *              (relative to the /27); the agents' control APIs and the coordinator live here, so
 *              a host link never needs 192.0.2.0/24 in the root namespace (a machine's own LAN
 *              may use it) and up to eight labs with host links can run side by side
 *   clients    203.0.113.16·i/28, 2001:db8:c<i>::/64 — router .1, client .2 (region i)
 *   anycast    198.51.100.10/32, 2001:db8:a::10/128 on every node's loopback
 */
import { validateTopology, type LabTopology } from './topology.js';

export const ANYCAST_V4 = '198.51.100.10';
export const ANYCAST_V6 = '2001:db8:a::10';
/** The name on the lab's SIP certificate and the SNI the agents' TLS checks send. */
export const LAB_SERVER_NAME = 'sip.lab.test';
export const ROUTER_ASN = 65000;
/** First PoP's AS number; PoP i gets FIRST_POP_ASN + i. */
export const FIRST_POP_ASN = 65001;
export const CONTROL_PORT = 9179;
export const SIP_PORT = 5060;
export const SIPS_PORT = 5061;

export interface RouterPlan {
  /** The region the router serves (its name). */
  region: string;
  index: number;
  netns: string;
  /** Bridge port in the fabric namespace for this router. */
  bridgePort: string;
  ipv4: string;
  ipv6: string;
  asn: number;
  /** The client subnet hanging off this router. */
  clientSubnet4: string;
  clientSubnet6: string;
  clientGateway4: string;
  clientGateway6: string;
}

export interface NodePlan {
  name: string;
  site: string;
  region: string;
  index: number;
  netns: string;
  bridgePort: string;
  ipv4: string;
  ipv6: string;
  asn: number;
  /** Address in the management subnet: the agent's control API listens here. */
  managementIpv4: string;
  /** BIRD protocol names of this node's sessions (the same on every router). */
  birdProtocols: { ipv4: string; ipv6?: string };
}

export interface ClientPlan {
  region: string;
  netns: string;
  ipv4: string;
  ipv6: string;
  gateway4: string;
  gateway6: string;
}

export interface LabPlan {
  runId: string;
  /** Prefix of every namespace this run creates. */
  namespacePrefix: string;
  topology: LabTopology;
  fabric: { netns: string; bridge: string; subnet4: string; subnet6: string; prefixLength4: 24 };
  /**
   * The management subnet shared by the host and the nodes' control APIs; the fabric bridge
   * itself has relayIpv4, where the lab's control relay reaches every agent from.
   */
  management: { subnet4: ManagementSubnet; prefixLength: 27; relayIpv4: string };
  /** The veth joining the root namespace to the fabric (only created with a host link). */
  host: { ipv4: string; ifName: string; peerIfName: string };
  routers: RouterPlan[];
  nodes: NodePlan[];
  clients: ClientPlan[];
  anycast: { ipv4: string; ipv6?: string };
  /** Every namespace, in creation order. */
  namespaces: string[];
}

/** BIRD protocol names: letters, digits and underscores, starting with a letter. */
export function birdProtocolName(node: string, family: 'ipv4' | 'ipv6'): string {
  const base = `n_${node.replace(/[^a-zA-Z0-9]/g, '_')}`;
  return family === 'ipv4' ? base : `${base}_v6`;
}

/** A short run id (base36, 6 characters) so interface names stay within 15 characters. */
export function newRunId(random: () => number = Math.random): string {
  let id = '';
  for (let i = 0; i < 6; i++) id += '0123456789abcdefghijklmnopqrstuvwxyz'[Math.floor(random() * 36)];
  return id;
}

const RUN_ID = /^[a-z0-9]{1,8}$/;

/**
 * The management subnets a lab may use: the upper halves of the two documentation /24s the lab
 * does not otherwise use there (198.51.100.10 and the client /28s sit in the lower halves).
 */
export const MANAGEMENT_SUBNETS = [
  '198.51.100.128/27',
  '198.51.100.160/27',
  '198.51.100.192/27',
  '198.51.100.224/27',
  '203.0.113.128/27',
  '203.0.113.160/27',
  '203.0.113.192/27',
  '203.0.113.224/27',
] as const;
export type ManagementSubnet = (typeof MANAGEMENT_SUBNETS)[number];

/** The address `offset` into a management /27. */
function managementAddress(subnet: ManagementSubnet, offset: number): string {
  const [a, b, c, d] = subnet.split('/')[0]!.split('.').map(Number);
  return `${a}.${b}.${c}.${d! + offset}`;
}

export function planLab(
  topology: LabTopology,
  runId: string,
  managementSubnet: ManagementSubnet = MANAGEMENT_SUBNETS[0],
): LabPlan {
  validateTopology(topology);
  if (!MANAGEMENT_SUBNETS.includes(managementSubnet))
    throw new Error(
      `managementSubnet: expected one of ${MANAGEMENT_SUBNETS.join(', ')}, received "${String(managementSubnet)}"`,
    );
  if (!RUN_ID.test(runId))
    throw new Error(`runId: expected 1-8 lower-case letters or digits, received "${runId}"`);
  const namespacePrefix = `hl-${runId}`;
  const routers: RouterPlan[] = topology.regions.map((region, index) => ({
    region: region.name,
    index,
    netns: `${namespacePrefix}-r-${region.name}`,
    bridgePort: `r${index}`,
    ipv4: `192.0.2.${1 + index}`,
    ipv6: `2001:db8:f::${1 + index}`,
    asn: ROUTER_ASN,
    clientSubnet4: `203.0.113.${16 * index}/28`,
    clientSubnet6: `2001:db8:c${index}::/64`,
    clientGateway4: `203.0.113.${16 * index + 1}`,
    clientGateway6: `2001:db8:c${index}::1`,
  }));
  const nodes: NodePlan[] = [];
  topology.pops.forEach((pop, popIndex) => {
    for (const name of pop.nodes) {
      const index = nodes.length;
      const birdProtocols = {
        ipv4: birdProtocolName(name, 'ipv4'),
        ...(topology.ipv6 ? { ipv6: birdProtocolName(name, 'ipv6') } : {}),
      };
      nodes.push({
        name,
        site: pop.name,
        region: pop.region,
        index,
        netns: `${namespacePrefix}-n-${name}`,
        bridgePort: `n${index}`,
        ipv4: `192.0.2.${11 + index}`,
        ipv6: `2001:db8:f::${11 + index}`,
        asn: FIRST_POP_ASN + popIndex,
        managementIpv4: managementAddress(managementSubnet, 1 + index),
        birdProtocols,
      });
    }
  });
  const clients: ClientPlan[] = routers.map((router) => ({
    region: router.region,
    netns: `${namespacePrefix}-c-${router.region}`,
    ipv4: `203.0.113.${16 * router.index + 2}`,
    ipv6: `2001:db8:c${router.index}::2`,
    gateway4: router.clientGateway4,
    gateway6: router.clientGateway6,
  }));
  const fabric = {
    netns: `${namespacePrefix}-fab`,
    bridge: 'br0',
    subnet4: '192.0.2.0/24',
    subnet6: '2001:db8:f::/64',
    prefixLength4: 24 as const,
  };
  return {
    runId,
    namespacePrefix,
    topology,
    fabric,
    management: {
      subnet4: managementSubnet,
      prefixLength: 27,
      relayIpv4: managementAddress(managementSubnet, 29),
    },
    host: { ipv4: managementAddress(managementSubnet, 30), ifName: `hl${runId}`, peerIfName: 'host' },
    routers,
    nodes,
    clients,
    anycast: { ipv4: ANYCAST_V4, ...(topology.ipv6 ? { ipv6: ANYCAST_V6 } : {}) },
    namespaces: [
      fabric.netns,
      ...routers.map((r) => r.netns),
      ...clients.map((c) => c.netns),
      ...nodes.map((n) => n.netns),
    ],
  };
}

export function findNode(plan: LabPlan, name: string): NodePlan {
  const node = plan.nodes.find((n) => n.name === name);
  if (!node)
    throw new Error(`node: expected one of ${plan.nodes.map((n) => n.name).join(', ')}, received "${name}"`);
  return node;
}

export function findClient(plan: LabPlan, region: string): ClientPlan {
  const client = plan.clients.find((c) => c.region === region);
  if (!client)
    throw new Error(
      `client region: expected one of ${plan.clients.map((c) => c.region).join(', ')}, received "${region}"`,
    );
  return client;
}
