/**
 * Watches who announces the anycast prefix at every BIRD router of a lab, over persistent control
 * sockets, every couple of milliseconds: the benchmarks' clock for "the route is gone at BIRD".
 * The time of an observation is when BIRD's answer arrived (never earlier than BIRD knew).
 */
import type { Lab } from '../../src/lab/lab.js';
import { delay } from '../../src/lab/wait.js';
import { BirdSocket } from './bird-socket.js';
import { birdSockets, PREFIX, protocolOf } from './labs.js';

/** Router name → BIRD protocols with a route for the prefix. */
export type Announcers = Map<string, string[]>;

export class RouteWatch {
  private constructor(
    private readonly lab: Lab,
    private readonly sockets: Map<string, BirdSocket>,
  ) {}

  static async open(lab: Lab): Promise<RouteWatch> {
    const sockets = new Map<string, BirdSocket>();
    try {
      for (const [router, path] of Object.entries(birdSockets(lab)))
        sockets.set(router, await BirdSocket.connect(path));
    } catch (error) {
      for (const socket of sockets.values()) socket.close();
      throw error;
    }
    return new RouteWatch(lab, sockets);
  }

  async announcers(): Promise<{ at: number; announcers: Announcers }> {
    const entries = await Promise.all(
      [...this.sockets].map(async ([router, socket]) => [router, await socket.announcers(PREFIX)] as const),
    );
    return { at: Date.now(), announcers: new Map(entries) };
  }

  /** Whether none of the nodes has a route at any router. */
  withdrawn(announcers: Announcers, nodes: string[]): boolean {
    const protocols = nodes.map((node) => protocolOf(this.lab, node));
    return [...announcers.values()].every((list) => !list.some((p) => protocols.includes(p)));
  }

  /** Whether every node has a route at every router. */
  announced(announcers: Announcers, nodes: string[]): boolean {
    const protocols = nodes.map((node) => protocolOf(this.lab, node));
    return [...announcers.values()].every((list) => protocols.every((p) => list.includes(p)));
  }

  /** Polls until the predicate holds; resolves with the time of the first observation that showed it. */
  async until(
    predicate: (announcers: Announcers) => boolean,
    options: { timeoutMs: number; pollMs?: number; description: string },
  ): Promise<number> {
    const deadline = Date.now() + options.timeoutMs;
    for (;;) {
      const { at, announcers } = await this.announcers();
      if (predicate(announcers)) return at;
      if (Date.now() > deadline)
        throw new Error(
          `timed out after ${options.timeoutMs} ms waiting for ${options.description}; last seen ${JSON.stringify([...announcers])}`,
        );
      await delay(options.pollMs ?? 2);
    }
  }

  /** BGP updates and withdraws BIRD received from a node's session, summed over routers. */
  async importCounters(node: string): Promise<{ updates: number; withdraws: number }> {
    const protocol = protocolOf(this.lab, node);
    let updates = 0;
    let withdraws = 0;
    for (const socket of this.sockets.values()) {
      const counters = await socket.importCounters(protocol);
      if (!counters) throw new Error(`BIRD: no import counters for protocol ${protocol}`);
      updates += counters.updates;
      withdraws += counters.withdraws;
    }
    return { updates, withdraws };
  }

  close(): void {
    for (const socket of this.sockets.values()) socket.close();
  }
}
