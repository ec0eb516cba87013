/**
 * The agents this replica serves: their push streams, their reports (checked against the
 * inventory), who went stale, and the health inputs the safety policy reads from them. A report
 * that changes something asks for a reconcile pass (`onChange`); the hub decides nothing itself.
 */
import { describeValue } from '../config/load.js';
import type { Logger } from '../util/log.js';
import type { AgentDesired, AgentStatus } from '../wire/agent-status.js';
import type { DrainTarget } from '../wire/coordinator-api.js';
import { AgentRegistry } from './agent-registry.js';
import type { CoordinatorConfig } from './config-schema.js';
import { InvalidRequestError } from './domain-errors.js';
import type { AgentEventData, EventBus } from './events.js';
import { announcingByNode, knownPrefixes, type Inventory, type MonotonicClock } from './fleet.js';
import { nodesOfTarget } from './holds.js';
import type { NodeReport } from './model.js';
import type { NodeHealth } from './replicas/health-board.js';
import type { DrainReport } from './progress.js';

export interface AgentHubOptions {
  config: CoordinatorConfig;
  inventory: Inventory;
  events: EventBus;
  logger: Logger;
  clock: () => number;
  monotonic: MonotonicClock;
  /** A report changed something a decision or the page reads. */
  onChange: () => void;
  /** Whether the coordinator is shutting down (a stream closing then is not news). */
  stopped: () => boolean;
  /** The grace after a restart or leadership change (replicas/stale-grace.ts): no agent judged stale. */
  inGrace?: () => boolean;
  /**
   * Node health other replicas publish (replicas/health-board.ts): nodes whose agents are
   * connected elsewhere count toward the floors here too.
   */
  sharedHealth?: () => ReadonlyMap<string, NodeHealth>;
}

/** What the safety policy reads about the agents (policy.ts `evaluateDrain`). */
export interface HealthInputs {
  announcing: ReturnType<typeof announcingByNode>;
  reporting: Set<string>;
  prefixes: ReturnType<typeof knownPrefixes>;
}

export class AgentHub {
  readonly registry: AgentRegistry;
  /** node → its site, for the per-report paths. */
  readonly siteOf = new Map<string, string>();

  constructor(private readonly o: AgentHubOptions) {
    for (const site of o.inventory.sites) for (const node of site.nodes) this.siteOf.set(node, site.name);
    this.registry = new AgentRegistry(
      o.inventory.sites.flatMap((s) => s.nodes),
      o.config.agents.staleAfter,
      o.monotonic,
      o.inGrace,
    );
  }

  get reports(): ReadonlyMap<string, NodeReport> {
    return this.registry.reports;
  }

  isStale(node: string): boolean {
    return this.registry.isStale(node);
  }

  /** Opens an agent's push stream; returns the function that closes it. */
  connectAgent(node: string, push: (desired: AgentDesired) => void): () => void {
    const close = this.registry.connect(node, push);
    this.o.logger.info({ node }, 'agent connected');
    this.o.events.emit('agent.connected', this.eventData(node), this.o.clock());
    return () => {
      close();
      if (this.o.stopped()) return;
      this.o.logger.info({ node }, 'agent disconnected');
      this.o.events.emit('agent.disconnected', this.eventData(node), this.o.clock());
    };
  }

  /** Takes an agent's report; invalid when it claims another node or site (the claim quoted briefly). */
  ingestReport(node: string, status: AgentStatus): { revision: number | null } {
    const site = this.siteOf.get(node);
    const problems: string[] = [];
    if (status.node !== node)
      problems.push(
        `node: expected ${JSON.stringify(node)} (the token's node), received ${describeValue(status.node)}`,
      );
    if (site && status.site !== site)
      problems.push(
        `site: expected ${JSON.stringify(site)} (the inventory's site of ${node}), received ${describeValue(status.site)}`,
      );
    if (problems.length) throw new InvalidRequestError('report', problems);
    const now = this.o.clock();
    const wasStale = this.registry.isStale(node);
    const changed = this.registry.record(node, status, now);
    if (changed || wasStale) {
      this.o.events.emit('agent.report', this.eventData(node), now);
      this.o.onChange();
    }
    return { revision: this.registry.revisionOf(node) };
  }

  /** Logs and emits each agent that went stale or came back since the last call. */
  noticeStaleness(now: number): void {
    for (const { node, stale } of this.registry.staleTransitions()) {
      if (stale)
        this.o.logger.warn(
          { node },
          `agent ${node} is stale: not heard from within ${this.o.config.agents.staleAfter} ms`,
        );
      else this.o.logger.info({ node }, `agent ${node} reports again`);
      this.o.events.emit('agent.stale', this.eventData(node), now);
    }
  }

  eventData(node: string): AgentEventData {
    const report = this.registry.reports.get(node);
    const stale = this.registry.isStale(node);
    return {
      node,
      site: this.siteOf.get(node) ?? report?.status.site ?? '',
      state: report?.status.state ?? null,
      healthy: report?.status.healthy ?? null,
      announcing:
        stale || !report
          ? []
          : report.status.prefixes
              .filter((p) => p.acknowledged === 'announce' || p.acknowledged === 'graceful')
              .map((p) => p.prefix),
      stale,
      connected: this.registry.isConnected(node),
      lastSeenAt: report?.receivedAt ?? null,
      ...(report && !stale
        ? {
            drainState: {
              prefixes: report.status.prefixes,
              drains: report.status.drains,
              ...(report.status.preDrain ? { preDrain: report.status.preDrain } : {}),
            },
          }
        : {}),
    };
  }

  /**
   * The reports drain progress reads on the leader: this replica's agents, plus, for a node whose
   * agent is connected to another replica, what that replica shares on the health board (fresh
   * entries only). Without it the leader would see such a node as never reporting and its
   * drains would never complete.
   */
  progressInputs(): ProgressInputs {
    const isStale = (node: string) => this.registry.isStale(node);
    const board = this.o.sharedHealth?.();
    if (!board?.size) return { reports: this.registry.reports, isStale };
    return withSharedReports({ reports: this.registry.reports, isStale }, board);
  }

  /** What another replica shares about a node (the health board); undefined without replicas. */
  servedElsewhere(node: string): NodeHealth | undefined {
    return this.o.sharedHealth?.().get(node);
  }

  /** Node health as the policy counts it toward floors: this replica's agents, fresh reports only. */
  healthInputs(): HealthInputs {
    const reports = this.registry.reports;
    const local: HealthInputs = {
      announcing: announcingByNode(reports, this.o.monotonic(), this.o.config.agents.staleAfter),
      reporting: new Set([...reports.keys()].filter((node) => !this.registry.isStale(node))),
      prefixes: knownPrefixes(reports),
    };
    return this.o.sharedHealth ? withSharedHealth(local, this.o.sharedHealth()) : local;
  }

  /** Whether every node of a target reports healthy right now (fresh reports only). */
  targetHealthy(target: DrainTarget): boolean {
    return nodesOfTarget(this.o.inventory, target).every(
      (node) => !this.registry.isStale(node) && this.registry.reports.get(node)?.status.healthy === true,
    );
  }

  nodeReport(node: string): NodeReport | undefined {
    return this.registry.reports.get(node);
  }

  nodeReports(): Iterable<NodeReport> {
    return this.registry.reports.values();
  }

  hasNode(node: string): boolean {
    return this.siteOf.has(node);
  }
}

/**
 * The policy's inputs across replicas: a node this replica hears fresh is judged by its own
 * report here; any other node counts as the board says (fresh entries of live replicas only, so a
 * dead replica's nodes drop out with its lease until their agents report elsewhere).
 */
export function withSharedHealth(local: HealthInputs, board: ReadonlyMap<string, NodeHealth>): HealthInputs {
  const announcing = new Map(local.announcing);
  const reporting = new Set(local.reporting);
  const prefixes = new Set(local.prefixes);
  for (const [node, health] of board) {
    if (local.reporting.has(node) || health.stale) continue;
    reporting.add(node);
    if (health.announcing.length) announcing.set(node, new Set(health.announcing));
    for (const prefix of health.announcing) prefixes.add(prefix);
  }
  return { announcing, reporting, prefixes: [...prefixes].sort() };
}

/** The reports drain progress reads, and which nodes count as stale (drain-advance.ts). */
export interface ProgressInputs {
  reports: ReadonlyMap<string, DrainReport>;
  isStale: (node: string) => boolean;
}

/**
 * Drain progress across replicas: a node this replica hears fresh keeps its own report; a node
 * fresh on the board with its drain state (served by another replica) counts by that state.
 * Stale board entries add nothing.
 */
export function withSharedReports(
  local: ProgressInputs,
  board: ReadonlyMap<string, NodeHealth>,
): ProgressInputs {
  const reports = new Map(local.reports);
  const remote = new Set<string>();
  for (const [node, health] of board) {
    if (health.stale || !health.drainState || (local.reports.has(node) && !local.isStale(node))) continue;
    remote.add(node);
    reports.set(node, { status: health.drainState });
  }
  return { reports, isStale: (node) => !remote.has(node) && local.isStale(node) };
}
