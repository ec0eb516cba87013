/**
 * What the coordinator holds about its agents: the last report of each node, the open push
 * streams, who went stale, and the desired state last published to each node with its
 * revision. Revisions only grow, across restarts too (max(last + 1, now)), so an agent never
 * ignores a newer coordinator's push as stale.
 */
import type { AgentDesired, AgentStatus } from '../wire/agent-status.js';
import { isStale, monotonicClock, type MonotonicClock } from './fleet.js';
import type { NodeReport } from './model.js';

/** A node's desired state without its revision: what is compared to decide whether to push. */
export type DesiredContent = Omit<AgentDesired, 'revision'>;

function sameContent(a: AgentDesired, b: DesiredContent): boolean {
  return (
    JSON.stringify(a.drains) === JSON.stringify(b.drains) &&
    JSON.stringify(a.panic ?? null) === JSON.stringify(b.panic ?? null)
  );
}

/** Report content a person would notice changing (timestamps and probe timings excluded). */
export function reportFingerprint(status: AgentStatus): string {
  return JSON.stringify({
    state: status.state,
    healthy: status.healthy,
    holdDown: status.holdDown.active,
    prefixes: status.prefixes.map((p) => [p.prefix, p.state, p.desired, p.acknowledged, p.drainedBy]),
    checks: status.checks.map((c) => [c.name, c.status]),
    drains: status.drains.map((d) => d.id),
    neighbors: status.neighbors.map((n) => [n.peer, n.state]),
    exabgp: status.exabgp.lastError,
  });
}

export class AgentRegistry {
  readonly reports = new Map<string, NodeReport>();
  private readonly fingerprints = new Map<string, string>();
  private readonly streams = new Map<string, Set<(desired: AgentDesired) => void>>();
  private readonly published = new Map<string, AgentDesired>();
  private readonly staleFlags = new Map<string, boolean>();
  private lastRevision = 0;

  constructor(
    private readonly nodes: readonly string[],
    private readonly staleAfterMs: number,
    /** Staleness is a duration: measured on this clock, never the wall clock. */
    private readonly monotonic: MonotonicClock = monotonicClock,
    /** True during the grace after a restart or leadership change: no agent is judged stale. */
    private readonly inGrace: () => boolean = () => false,
  ) {}

  /** Restores what was last published (from the store) so revisions continue. */
  restore(published: ReadonlyMap<string, AgentDesired>): void {
    for (const [node, desired] of published) {
      this.published.set(node, desired);
      this.lastRevision = Math.max(this.lastRevision, desired.revision);
    }
  }

  /** Opens a push stream for a node; the current desired state is pushed at once. */
  connect(node: string, push: (desired: AgentDesired) => void): () => void {
    const set = this.streams.get(node) ?? new Set();
    set.add(push);
    this.streams.set(node, set);
    push(this.desired(node));
    return () => {
      set.delete(push);
      if (!set.size) this.streams.delete(node);
    };
  }

  isConnected(node: string): boolean {
    return (this.streams.get(node)?.size ?? 0) > 0;
  }

  connectedCount(): number {
    return this.streams.size;
  }

  /** Stores a report (`now`: wall clock, shown); returns whether anything a person would notice changed. */
  record(node: string, status: AgentStatus, now: number): boolean {
    this.reports.set(node, { status, receivedAt: now, receivedAtMono: this.monotonic() });
    const fingerprint = reportFingerprint(status);
    const changed = this.fingerprints.get(node) !== fingerprint;
    this.fingerprints.set(node, fingerprint);
    return changed;
  }

  /** Not heard from within staleAfter, on the monotonic clock. */
  isStale(node: string): boolean {
    if (this.inGrace() && this.reports.has(node)) return false;
    return isStale(this.reports.get(node), this.monotonic(), this.staleAfterMs);
  }

  /** Nodes whose stale flag flipped since the last call (a node never heard from starts stale, silently). */
  staleTransitions(): { node: string; stale: boolean }[] {
    const flips: { node: string; stale: boolean }[] = [];
    for (const node of this.nodes) {
      const stale = this.isStale(node);
      const before = this.staleFlags.get(node);
      this.staleFlags.set(node, stale);
      if (before !== undefined && before !== stale) flips.push({ node, stale });
    }
    return flips;
  }

  desired(node: string): AgentDesired {
    return this.published.get(node) ?? { revision: this.lastRevision, drains: [] };
  }

  revisionOf(node: string): number | null {
    return this.published.get(node)?.revision ?? null;
  }

  /**
   * The nodes whose desired state (drains, panic) differs from what was published, each with a
   * new revision. Nodes never published get one too (so a fresh store still outranks an agent's
   * old state).
   */
  changes(compute: (node: string) => DesiredContent, now: number): { node: string; desired: AgentDesired }[] {
    const updates: { node: string; desired: AgentDesired }[] = [];
    for (const node of this.nodes) {
      const content = compute(node);
      const current = this.published.get(node);
      if (current && sameContent(current, content)) continue;
      this.lastRevision = Math.max(this.lastRevision + 1, now);
      updates.push({
        node,
        desired: {
          revision: this.lastRevision,
          drains: content.drains,
          ...(content.panic ? { panic: content.panic } : {}),
        },
      });
    }
    return updates;
  }

  /** Every desired state last published (restored from the store at start). */
  publishedStates(): IterableIterator<AgentDesired> {
    return this.published.values();
  }

  /** Records and pushes updates (after they were stored). */
  publish(updates: readonly { node: string; desired: AgentDesired }[]): void {
    for (const { node, desired } of updates) {
      this.published.set(node, desired);
      for (const push of this.streams.get(node) ?? []) push(desired);
    }
  }
}
