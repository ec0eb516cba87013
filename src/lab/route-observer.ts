/**
 * The lab's source of truth about routing: asks each BIRD router (via birdc) which nodes announce
 * a prefix right now, with MED, communities (incl. GRACEFUL_SHUTDOWN 65535:0) and which route is
 * best, and so which PoP a client of each region reaches. Tests and the coordinator's `--wait`
 * verification poll it with waitFor().
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { GRACEFUL_SHUTDOWN } from '../agent/route-intents.js';
import { birdcError, parseBirdProtocols, parseBirdRoutes, type BirdRoute } from '../bird/bird-rib.js';
import { frrSessionStates, parseFrrRoutes, runVtysh } from '../frr/frr-rib.js';
import type { LabPlan } from './plan.js';
import type { LabPaths } from './paths.js';
import { waitFor, type WaitOptions, type WaitResult } from './wait.js';

export interface NeighborInfo {
  node: string;
  site: string;
  region: string;
}

export interface RouterSource {
  /** The router's name (its region in the lab). */
  name: string;
  /** BIRD control socket. */
  socket: string;
  /** Set when the router runs FRR (`--router frr`): the directory of its vty sockets. */
  frrDir?: string;
}

export interface ObservedRoute extends BirdRoute {
  router: string;
  /** The announcing node, site and region, when the BGP protocol is a known neighbor. */
  node?: string;
  site?: string;
  region?: string;
  gracefulShutdown: boolean;
}

export interface RouterView {
  router: string;
  routes: ObservedRoute[];
  /** The primary route: where this router sends the prefix's traffic. */
  best?: ObservedRoute;
  /** Set when the router could not be asked (BIRD down, socket missing). */
  error?: string;
}

export interface RouteSnapshot {
  prefix: string;
  /** Unix milliseconds when the snapshot was taken. */
  at: number;
  routers: RouterView[];
}

/** Builds one router's view from birdc output: only routes for exactly `prefix`. Pure. */
export function routerViewFromOutput(
  router: string,
  prefix: string,
  output: string,
  neighbors: ReadonlyMap<string, NeighborInfo>,
): RouterView {
  const error = birdcError(output);
  if (error) return { router, routes: [], error };
  const routes: ObservedRoute[] = parseBirdRoutes(output)
    .filter((route) => route.prefix === prefix)
    .map((route) => {
      const neighbor = neighbors.get(route.protocol);
      return {
        ...route,
        router,
        ...(neighbor ?? {}),
        gracefulShutdown: route.communities.includes(GRACEFUL_SHUTDOWN),
      };
    });
  const best = routes.find((route) => route.primary);
  return { router, routes, ...(best ? { best } : {}) };
}

/**
 * Builds one FRR router's view from `show bgp ... json`: routes are keyed by the neighbor's
 * address (FRR has no protocol names), which `neighbors` maps to its node. Pure.
 */
export function frrRouterViewFromOutput(
  router: string,
  prefix: string,
  output: string,
  neighbors: ReadonlyMap<string, NeighborInfo>,
): RouterView {
  let routes: BirdRoute[];
  try {
    routes = parseFrrRoutes(prefix, output);
  } catch (error) {
    return { router, routes: [], error: (error as Error).message };
  }
  const observed: ObservedRoute[] = routes.map((route) => ({
    ...route,
    router,
    ...(neighbors.get(route.protocol) ?? {}),
    gracefulShutdown: route.communities.includes(GRACEFUL_SHUTDOWN),
  }));
  const best = observed.find((route) => route.primary);
  return { router, routes: observed, ...(best ? { best } : {}) };
}

/** Nodes that announce the prefix to at least one router (sorted). */
export function announcingNodes(snapshot: RouteSnapshot): string[] {
  const nodes = new Set<string>();
  for (const view of snapshot.routers)
    for (const route of view.routes) nodes.add(route.node ?? `?${route.protocol}`);
  return [...nodes].sort();
}

/** Sites that announce the prefix to at least one router (sorted). */
export function announcingSites(snapshot: RouteSnapshot): string[] {
  const sites = new Set<string>();
  for (const view of snapshot.routers) for (const route of view.routes) if (route.site) sites.add(route.site);
  return [...sites].sort();
}

/** The routes a node announces, one per router that has one. */
export function routesOf(snapshot: RouteSnapshot, node: string): ObservedRoute[] {
  return snapshot.routers.flatMap((view) => view.routes.filter((route) => route.node === node));
}

/** Whether `node` announces the prefix to every router (or to `router` only). */
export function isAnnouncedBy(snapshot: RouteSnapshot, node: string, router?: string): boolean {
  const views = snapshot.routers.filter((view) => !router || view.router === router);
  return views.length > 0 && views.every((view) => view.routes.some((route) => route.node === node));
}

/** Whether no router has a route from `node` (errors count as "don't know": false). */
export function isWithdrawnBy(snapshot: RouteSnapshot, node: string): boolean {
  return snapshot.routers.every((view) => !view.error && !view.routes.some((route) => route.node === node));
}

/** The node a router currently sends the prefix's traffic to. */
export function bestNode(snapshot: RouteSnapshot, router: string): string | undefined {
  return snapshot.routers.find((view) => view.router === router)?.best?.node;
}

/** The PoP a router currently sends the prefix's traffic to (a client behind it reaches this PoP). */
export function bestSite(snapshot: RouteSnapshot, router: string): string | undefined {
  return snapshot.routers.find((view) => view.router === router)?.best?.site;
}

/** A short human-readable summary, one line per router. */
export function describeSnapshot(snapshot: RouteSnapshot): string {
  return snapshot.routers
    .map((view) => {
      if (view.error) return `${view.router}: error: ${view.error}`;
      if (view.routes.length === 0) return `${view.router}: no route`;
      const routes = view.routes.map((route) => {
        const flags = [
          route.primary ? 'best' : '',
          route.med !== undefined ? `med ${route.med}` : '',
          route.localPref !== undefined ? `lp ${route.localPref}` : '',
          route.gracefulShutdown ? 'GRACEFUL_SHUTDOWN' : '',
        ].filter(Boolean);
        return `${route.node ?? route.protocol}(${flags.join(', ')})`;
      });
      return `${view.router}: ${routes.join(' ')}`;
    })
    .join('; ');
}

export interface SessionView {
  router: string;
  /** BIRD protocol name. */
  protocol: string;
  node?: string;
  site?: string;
  /** BIRD's state ("up", "start", ...) and info ("Established", "Active", ...). */
  state: string;
  info: string;
  established: boolean;
}

/** BGP sessions of one router from `show protocols` output. Pure. */
export function sessionsFromOutput(
  router: string,
  output: string,
  neighbors: ReadonlyMap<string, NeighborInfo>,
): SessionView[] {
  return parseBirdProtocols(output)
    .filter((protocol) => protocol.proto === 'BGP')
    .map((protocol) => {
      const neighbor = neighbors.get(protocol.name);
      return {
        router,
        protocol: protocol.name,
        ...(neighbor ? { node: neighbor.node, site: neighbor.site } : {}),
        state: protocol.state,
        info: protocol.info,
        established: protocol.state === 'up' && protocol.info.startsWith('Established'),
      };
    });
}

export type BirdcRunner = (socket: string, command: string) => Promise<string>;

/** Runs birdc against a control socket and returns its output (errors are output too). */
export const runBirdc: BirdcRunner = (socket, command) =>
  new Promise((resolve) => {
    execFile('birdc', ['-s', socket, command], { timeout: 5000 }, (error, stdout, stderr) => {
      const output = `${stdout}${stderr}`;
      if (error && !output.trim()) resolve(`Unable to connect to server control socket: ${error.message}`);
      else resolve(output);
    });
  });

export interface RouteObserverOptions {
  routers: RouterSource[];
  /** BIRD protocol name → the node behind it. */
  neighbors: ReadonlyMap<string, NeighborInfo>;
  /** The prefix observed when none is given (e.g. "198.51.100.10/32"). */
  defaultPrefix: string;
  birdc?: BirdcRunner;
}

export class RouteObserver {
  readonly defaultPrefix: string;
  private readonly birdc: BirdcRunner;

  constructor(private readonly options: RouteObserverOptions) {
    this.defaultPrefix = options.defaultPrefix;
    this.birdc = options.birdc ?? runBirdc;
  }

  /** An observer of a lab's routers; prefix defaults to the IPv4 anycast /32. */
  static forLab(plan: LabPlan, paths: LabPaths, birdc?: BirdcRunner): RouteObserver {
    const neighbors = new Map<string, NeighborInfo>();
    for (const node of plan.nodes) {
      const info = { node: node.name, site: node.site, region: node.region };
      neighbors.set(node.birdProtocols.ipv4, info);
      if (node.birdProtocols.ipv6) neighbors.set(node.birdProtocols.ipv6, info);
    }
    const frr = plan.topology.router === 'frr';
    if (frr)
      for (const node of plan.nodes) {
        const info = { node: node.name, site: node.site, region: node.region };
        neighbors.set(node.ipv4, info);
        if (plan.topology.ipv6) neighbors.set(node.ipv6, info);
      }
    return new RouteObserver({
      routers: plan.routers.map((router) => ({
        name: router.region,
        socket: paths.routers[router.region]!.birdSocket,
        ...(frr ? { frrDir: join(paths.routers[router.region]!.dir, 'frr') } : {}),
      })),
      neighbors,
      defaultPrefix: `${plan.anycast.ipv4}/32`,
      ...(birdc ? { birdc } : {}),
    });
  }

  get routerNames(): string[] {
    return this.options.routers.map((router) => router.name);
  }

  async routerView(router: RouterSource, prefix: string): Promise<RouterView> {
    if (router.frrDir) {
      const family = prefix.includes(':') ? 'ipv6' : 'ipv4';
      const output = await runVtysh(router.frrDir, `show bgp ${family} unicast ${prefix} json`);
      return frrRouterViewFromOutput(router.name, prefix, output, this.options.neighbors);
    }
    const output = await this.birdc(router.socket, `show route ${prefix} all`);
    return routerViewFromOutput(router.name, prefix, output, this.options.neighbors);
  }

  /** Every router's view of the prefix, asked in parallel. */
  async snapshot(prefix: string = this.defaultPrefix): Promise<RouteSnapshot> {
    const at = Date.now();
    const routers = await Promise.all(this.options.routers.map((router) => this.routerView(router, prefix)));
    return { prefix, at, routers };
  }

  /** Every router's BGP sessions with the nodes. A router that cannot be asked contributes none. */
  async sessions(): Promise<SessionView[]> {
    const views = await Promise.all(
      this.options.routers.map(async (router) =>
        router.frrDir
          ? frrSessionStates(await runVtysh(router.frrDir, 'show bgp summary json')).map((peer) => {
              const neighbor = this.options.neighbors.get(peer.peer);
              return {
                router: router.name,
                protocol: peer.peer,
                ...(neighbor ? { node: neighbor.node, site: neighbor.site } : {}),
                state: peer.state,
                info: peer.state,
                established: peer.state === 'Established',
              };
            })
          : sessionsFromOutput(
              router.name,
              await this.birdc(router.socket, 'show protocols'),
              this.options.neighbors,
            ),
      ),
    );
    return views.flat();
  }

  /** Polls snapshots until `predicate` holds (default poll 25 ms). */
  waitFor(
    predicate: (snapshot: RouteSnapshot) => boolean,
    options: WaitOptions & { prefix?: string },
  ): Promise<WaitResult<RouteSnapshot>> {
    return waitFor(() => this.snapshot(options.prefix), predicate, { pollMs: 25, ...options });
  }
}
