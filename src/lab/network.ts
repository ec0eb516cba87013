/**
 * Builds the lab's network from a plan: a fabric bridge (in its own namespace) joining every node
 * and router on 192.0.2.0/24 (+ 2001:db8:f::/64), a client namespace behind each region's router,
 * the anycast addresses on each node's loopback, return routes from the nodes to the clients, and
 * a management subnet beside the fabric for the agents' control APIs, and optionally a veth from
 * the root namespace into that subnet (e.g. 198.51.100.158) so the host reaches the agents and the
 * agents reach a coordinator on the host. Veth ends are created directly inside their namespaces,
 * so no temporary interface name ever appears in the root namespace.
 */
import { ip, run, runSyncQuiet } from './exec.js';
import type { LabPlan } from './plan.js';
import { killNamespaceProcessesSync, stopNamespaceProcesses } from './processes.js';
import { waitFor } from './wait.js';

export type Release = () => Promise<void>;

async function sysctl(netns: string, key: string, value: string): Promise<void> {
  await run('ip', ['netns', 'exec', netns, 'sysctl', '-q', '-w', `${key}=${value}`]);
}

/** Creates a namespace with loopback up; the release stops its processes and deletes it. */
export async function createNamespace(netns: string): Promise<Release> {
  await ip(['netns', 'add', netns]);
  const release = async () => {
    await stopNamespaceProcesses(netns);
    await ip(['netns', 'del', netns]).catch(() => {});
  };
  try {
    await ip(['link', 'set', 'lo', 'up'], netns);
    // IPv6 duplicate address detection would keep fresh addresses unusable for a second or two.
    await sysctl(netns, 'net.ipv6.conf.all.accept_dad', '0');
    await sysctl(netns, 'net.ipv6.conf.default.accept_dad', '0');
  } catch (error) {
    await release();
    throw error;
  }
  return release;
}

/**
 * Deletes a namespace the caller created and checks it is gone, for tests' teardown: stops the
 * processes inside it first (one still running there can make the delete fail with EBUSY), tries
 * again until it is no longer listed, and rejects — naming the last error — if it is still there
 * after timeoutMs. "Does not exist" is success (never created, or already gone); any other failure
 * is not swallowed, so a leaked namespace fails the teardown instead of staying on the machine.
 */
export async function deleteNamespace(netns: string, timeoutMs = 15_000): Promise<void> {
  await waitFor(
    async () => {
      await stopNamespaceProcesses(netns);
      try {
        await ip(['netns', 'del', netns]);
      } catch (error) {
        if (!/No such file or directory/.test((error as Error).message)) throw error;
      }
      return (await listNamespaces()).includes(netns);
    },
    (stillListed) => !stillListed,
    { timeoutMs, pollMs: 200, description: `namespace ${netns} deleted` },
  );
}

/** Synchronous, best-effort removal of namespaces (exit handlers, stale runs). */
export function deleteNamespacesSync(namespaces: readonly string[]): void {
  const existing = new Set(listNamespacesSync());
  for (const netns of namespaces) {
    if (!existing.has(netns)) continue;
    killNamespaceProcessesSync(netns);
    runSyncQuiet('ip', ['netns', 'del', netns]);
  }
}

export function listNamespacesSync(): string[] {
  return (runSyncQuiet('ip', ['netns', 'list']) ?? '')
    .split('\n')
    .map((line) => line.split(/\s+/)[0] ?? '')
    .filter(Boolean);
}

export async function listNamespaces(): Promise<string[]> {
  const output = await ip(['netns', 'list']);
  return output
    .split('\n')
    .map((line) => line.split(/\s+/)[0] ?? '')
    .filter(Boolean);
}

/** A veth pair with one end in each namespace (undefined = the root namespace). */
async function vethPair(
  a: { netns?: string; name: string },
  b: { netns: string; name: string },
): Promise<void> {
  await ip(['link', 'add', a.name, 'type', 'veth', 'peer', 'name', b.name, 'netns', b.netns], a.netns);
}

async function attachToBridge(plan: LabPlan, port: string): Promise<void> {
  await ip(['link', 'set', port, 'master', plan.fabric.bridge, 'up'], plan.fabric.netns);
}

async function addAddress(netns: string | undefined, address: string, dev: string): Promise<void> {
  const args = ['addr', 'add', address, 'dev', dev];
  if (address.includes(':')) args.push('nodad');
  await ip(args, netns);
}

async function buildFabric(plan: LabPlan): Promise<void> {
  await ip(['link', 'add', plan.fabric.bridge, 'type', 'bridge'], plan.fabric.netns);
  // The control relay, running in this namespace, reaches the agents from the bridge itself.
  await addAddress(
    plan.fabric.netns,
    `${plan.management.relayIpv4}/${plan.management.prefixLength}`,
    plan.fabric.bridge,
  );
  await ip(['link', 'set', plan.fabric.bridge, 'up'], plan.fabric.netns);
}

async function buildRouter(plan: LabPlan, routerIndex: number): Promise<void> {
  const router = plan.routers[routerIndex]!;
  const client = plan.clients[routerIndex]!;
  await vethPair(
    { netns: plan.fabric.netns, name: router.bridgePort },
    { netns: router.netns, name: 'fabric' },
  );
  await attachToBridge(plan, router.bridgePort);
  await addAddress(router.netns, `${router.ipv4}/24`, 'fabric');
  await addAddress(router.netns, `${router.ipv6}/64`, 'fabric');
  await ip(['link', 'set', 'fabric', 'up'], router.netns);
  await sysctl(router.netns, 'net.ipv4.ip_forward', '1');
  await sysctl(router.netns, 'net.ipv6.conf.all.forwarding', '1');
  // The client hangs off its region's router.
  await vethPair({ netns: router.netns, name: 'client' }, { netns: client.netns, name: 'uplink' });
  await addAddress(router.netns, `${router.clientGateway4}/28`, 'client');
  await addAddress(router.netns, `${router.clientGateway6}/64`, 'client');
  await ip(['link', 'set', 'client', 'up'], router.netns);
  await addAddress(client.netns, `${client.ipv4}/28`, 'uplink');
  await addAddress(client.netns, `${client.ipv6}/64`, 'uplink');
  await ip(['link', 'set', 'uplink', 'up'], client.netns);
  await ip(['route', 'add', 'default', 'via', client.gateway4], client.netns);
  await ip(['-6', 'route', 'add', 'default', 'via', client.gateway6], client.netns);
}

async function buildNode(plan: LabPlan, nodeIndex: number): Promise<void> {
  const node = plan.nodes[nodeIndex]!;
  await vethPair({ netns: plan.fabric.netns, name: node.bridgePort }, { netns: node.netns, name: 'fabric' });
  await attachToBridge(plan, node.bridgePort);
  await addAddress(node.netns, `${node.ipv4}/24`, 'fabric');
  await addAddress(node.netns, `${node.ipv6}/64`, 'fabric');
  await addAddress(node.netns, `${node.managementIpv4}/${plan.management.prefixLength}`, 'fabric');
  await ip(['link', 'set', 'fabric', 'up'], node.netns);
  await addAddress(node.netns, `${plan.anycast.ipv4}/32`, 'lo');
  if (plan.anycast.ipv6) await addAddress(node.netns, `${plan.anycast.ipv6}/128`, 'lo');
  // Replies to a client go back through that client's region router.
  for (const router of plan.routers) {
    await ip(['route', 'add', router.clientSubnet4, 'via', router.ipv4], node.netns);
    await ip(['-6', 'route', 'add', router.clientSubnet6, 'via', router.ipv6], node.netns);
  }
}

const ROUTE_TYPES = new Set([
  'local',
  'broadcast',
  'unicast',
  'unreachable',
  'blackhole',
  'prohibit',
  'anycast',
  'multicast',
]);

/** The IPv4 destinations of `ip route show table all` output (no default routes). Pure. */
export function routeDestinations(output: string): string[] {
  return output
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .map((tokens) => (ROUTE_TYPES.has(tokens[0] ?? '') ? tokens[1] : tokens[0]) ?? '')
    .filter((destination) => /^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(destination));
}

/**
 * Why the host link cannot use this plan's management subnet (the root namespace already routes
 * some of it, e.g. another lab's host link or the machine's own network), if so.
 */
export async function hostLinkConflict(plan: LabPlan): Promise<string | undefined> {
  const subnet = plan.management.subnet4;
  const conflict = routeDestinations(await ip(['-4', 'route', 'show', 'table', 'all'])).find((destination) =>
    overlaps(destination, subnet),
  );
  return conflict ? `the root namespace already routes ${conflict}, which overlaps ${subnet}` : undefined;
}

function toNumber(address: string): number {
  return address.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

/** Whether two IPv4 prefixes overlap. Pure. */
export function overlaps(a: string, b: string): boolean {
  const [addressA, lengthA = '32'] = a.split('/');
  const [addressB, lengthB = '32'] = b.split('/');
  const length = Math.min(Number(lengthA), Number(lengthB));
  const mask = length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
  return (toNumber(addressA!) & mask) >>> 0 === (toNumber(addressB!) & mask) >>> 0;
}

async function buildHostLink(plan: LabPlan): Promise<Release> {
  const conflict = await hostLinkConflict(plan);
  if (conflict)
    throw new Error(
      `host link: expected ${plan.management.subnet4} to be unused in the root namespace, but ${conflict} (another lab with a host link running?)`,
    );
  await vethPair({ name: plan.host.ifName }, { netns: plan.fabric.netns, name: plan.host.peerIfName });
  const release = async () => {
    await ip(['link', 'del', plan.host.ifName]).catch(() => {});
  };
  try {
    await attachToBridge(plan, plan.host.peerIfName);
    await addAddress(undefined, `${plan.host.ipv4}/${plan.management.prefixLength}`, plan.host.ifName);
    await ip(['link', 'set', plan.host.ifName, 'up']);
  } catch (error) {
    await release();
    throw error;
  }
  return release;
}

/** Releases everything in reverse order, collecting errors; never throws. */
export async function releaseAll(releases: Release[]): Promise<Error[]> {
  const errors: Error[] = [];
  for (const release of [...releases].reverse()) {
    try {
      await release();
    } catch (error) {
      errors.push(error instanceof Error ? error : new Error(String(error)));
    }
  }
  releases.length = 0;
  return errors;
}

/**
 * Creates every namespace and link of the plan. Each created resource pushes its release onto
 * `releases` as soon as it exists, so a failure half-way leaves nothing behind once the caller
 * releases them.
 */
export async function buildNetwork(plan: LabPlan, releases: Release[], hostLink: boolean): Promise<void> {
  await Promise.all(
    plan.namespaces.map(async (netns) => {
      releases.push(await createNamespace(netns));
    }),
  );
  await buildFabric(plan);
  await Promise.all([
    ...plan.routers.map((_, index) => buildRouter(plan, index)),
    ...plan.nodes.map((_, index) => buildNode(plan, index)),
  ]);
  if (hostLink) releases.push(await buildHostLink(plan));
}
