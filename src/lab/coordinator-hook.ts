/** How a lab starts its coordinator(s): one (coordinator.ts) or replicas on etcd (coordinator-replicas.ts). */
import type { LabContext } from './context.js';
import type { Release } from './network.js';

/** A coordinator started on the host before the agents, so they can be given its URL and tokens. */
export interface CoordinatorHook {
  /** For the progress line: "the coordinator" when absent. */
  description?: string;
  start(context: LabContext): Promise<{
    url: string;
    /** Every replica's URL, when there are several (the agents are given the list). */
    urls?: string[];
    /** A bearer token per node name. */
    tokens: Record<string, string>;
    pid?: number;
    release: Release;
  }>;
}
