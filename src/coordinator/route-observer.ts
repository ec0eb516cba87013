/**
 * Route observers confirm at a router that a drained node's route is really gone (the
 * `verified` stage). One interface, two implementations: BIRD, asking birdc on each control
 * socket and mapping every path to a node by its neighbor address (next hop / via) or its BIRD
 * protocol name; FRR, asking vtysh on each router's vty socket directory and mapping every path
 * by its peer address. The output parsers (src/bird/bird-rib.ts, src/frr/frr-rib.ts) are shared with the lab.
 */
import { execFile } from 'node:child_process';
import { birdcError, parseBirdRoutes, type BirdRoute } from '../bird/bird-rib.js';
import { parseFrrRoutes } from '../frr/frr-rib.js';
import type { BirdObserverConfig, FrrObserverConfig } from './config-schema.js';

export interface RouteObserver {
  /** The nodes whose route for `prefix` at least one router still has. Rejects when it cannot tell. */
  announcingNodes(prefix: string): Promise<Set<string>>;
}

/** Maps one BIRD route to a node: protocol name first, then the neighbor addresses. Pure. */
export function nodeOfRoute(
  route: BirdRoute,
  neighbors: Readonly<Record<string, string>>,
  protocols: Readonly<Record<string, string>>,
): string | undefined {
  return (
    protocols[route.protocol] ??
    (route.nextHop !== undefined ? neighbors[route.nextHop] : undefined) ??
    (route.via !== undefined ? neighbors[route.via] : undefined)
  );
}

/** Nodes announcing `prefix` in one birdc output; unknown paths are named "?protocol". Pure. */
export function nodesInBirdOutput(
  output: string,
  prefix: string,
  config: Pick<BirdObserverConfig, 'neighbors' | 'protocols'>,
): Set<string> {
  const error = birdcError(output);
  if (error) throw new Error(error);
  const nodes = new Set<string>();
  for (const route of parseBirdRoutes(output)) {
    if (route.prefix !== prefix) continue;
    nodes.add(nodeOfRoute(route, config.neighbors, config.protocols) ?? `?${route.protocol}`);
  }
  return nodes;
}

export type Birdc = (socket: string, command: string) => Promise<string>;

export function birdcRunner(binary: string, timeoutMs: number): Birdc {
  return (socket, command) =>
    new Promise((resolve, reject) => {
      execFile(binary, ['-s', socket, command], { timeout: timeoutMs }, (error, stdout, stderr) => {
        const output = `${stdout}${stderr}`;
        // birdc exits non-zero for "Network not found" too: judge by the output.
        if (error && !output.trim()) reject(new Error(`birdc -s ${socket}: ${error.message}`));
        else resolve(output);
      });
    });
}

export class BirdRouteObserver implements RouteObserver {
  private readonly birdc: Birdc;

  constructor(
    private readonly config: BirdObserverConfig,
    birdc?: Birdc,
  ) {
    this.birdc = birdc ?? birdcRunner(config.birdc, config.timeout);
  }

  async announcingNodes(prefix: string): Promise<Set<string>> {
    const outputs = await Promise.all(
      this.config.sockets.map(async (socket) => {
        const output = await this.birdc(socket, `show route ${prefix} all`);
        try {
          return nodesInBirdOutput(output, prefix, this.config);
        } catch (error) {
          throw new Error(`birdc -s ${socket}: ${(error as Error).message}`);
        }
      }),
    );
    return new Set(outputs.flatMap((set) => [...set]));
  }
}

/** Nodes announcing `prefix` in one FRR `show bgp ... json` answer; unknown peers are "?peer". Pure. */
export function nodesInFrrOutput(
  output: string,
  prefix: string,
  neighbors: Readonly<Record<string, string>>,
): Set<string> {
  return new Set(
    parseFrrRoutes(prefix, output).map((route) => neighbors[route.protocol] ?? `?${route.protocol}`),
  );
}

export type Vtysh = (socketDir: string, command: string) => Promise<string>;

export function vtyshRunner(binary: string, timeoutMs: number): Vtysh {
  return (socketDir, command) =>
    new Promise((resolve, reject) => {
      execFile(
        binary,
        ['--vty_socket', socketDir, '-c', command],
        { timeout: timeoutMs },
        (error, stdout, stderr) => {
          if (error)
            reject(new Error(`vtysh --vty_socket ${socketDir}: ${`${stderr}`.trim() || error.message}`));
          else resolve(stdout);
        },
      );
    });
}

export class FrrRouteObserver implements RouteObserver {
  private readonly vtysh: Vtysh;

  constructor(
    private readonly config: FrrObserverConfig,
    vtysh?: Vtysh,
  ) {
    this.vtysh = vtysh ?? vtyshRunner(config.vtysh, config.timeout);
  }

  async announcingNodes(prefix: string): Promise<Set<string>> {
    const family = prefix.includes(':') ? 'ipv6' : 'ipv4';
    const outputs = await Promise.all(
      this.config.vtySockets.map(async (dir) => {
        const output = await this.vtysh(dir, `show bgp ${family} unicast ${prefix} json`);
        try {
          return nodesInFrrOutput(output, prefix, this.config.neighbors);
        } catch (error) {
          throw new Error(`vtysh --vty_socket ${dir}: ${(error as Error).message}`);
        }
      }),
    );
    return new Set(outputs.flatMap((set) => [...set]));
  }
}

/** The observer a coordinator config asks for. */
export function createRouteObserver(config: BirdObserverConfig | FrrObserverConfig): RouteObserver {
  return config.type === 'frr' ? new FrrRouteObserver(config) : new BirdRouteObserver(config);
}
