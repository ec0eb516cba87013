/**
 * Node health shared between replicas by change, not by heartbeat. Each replica writes the state
 * of the agents connected to IT at `<prefix>health/<node>`, bound to its lease, only when that
 * state changed (announcing per prefix, health state, stale, drain stage): a heartbeat that
 * changes nothing writes nothing. Every replica mirrors the whole `health/` prefix
 * (prefix-mirror.ts) into one merged view; a dead replica's entries expire with its lease and
 * its agents, reconnecting elsewhere, are written again by their new replica.
 *
 * `otherReplicasHealth()` is what this replica reads of the nodes it does not serve: drain
 * decisions (the policy's "announcing" and "reporting" sets), drain progress and the status views.
 * This replica's own entries are left out: they only repeat its agents' reports, a tick late.
 */
import type { Etcd3 } from 'etcd3';
import type { Logger } from '../../util/log.js';
import { coerceError } from '../../util/errors.js';
import type { AgentDrainState, AnyCoordinatorEvent, ElsewhereChange, EventBus } from '../events.js';
import { PrefixMirror } from './prefix-mirror.js';
import type { ReplicaLease } from './replica-lease.js';

/** One node's shared health, as its serving replica last wrote it. */
export interface NodeHealth {
  node: string;
  site: string;
  /** The replica its agent is connected to. */
  replica: string;
  /** The agent's health state machine state, null before its first report. */
  state: string | null;
  healthy: boolean | null;
  /** Prefixes it announces (acknowledged announce or graceful), sorted. */
  announcing: string[];
  /** Not heard from within agents.staleAfter (by its serving replica). */
  stale: boolean;
  /** Its stage in the active drain that covers it, or null. */
  drainStage: string | null;
  /** What the leader's drain progress reads of its report (absent: stale, or no report yet). */
  drainState?: AgentDrainState;
  /**
   * When the serving replica received the agent's report that was the latest as this entry was
   * written (its wall clock, unix ms; absent before a first report or from an older replica). Not
   * a change by itself: a heartbeat does not rewrite the entry, and the replica's heard key
   * (heard-times.ts) carries the later reports.
   */
  heardAt?: number;
}

/** Nodes written per etcd Txn (etcd refuses more than 128 operations in one). */
const WRITE_BATCH = 100;

/** A node's health changed (null: its agent left this replica). */
export interface HealthChange {
  node: string;
  health: NodeHealth | null;
}

/**
 * Turns the coordinator's events into per-node health of the agents connected here; returns a
 * change only when a node's health differs from the last one returned.
 */
export class NodeHealthTracker {
  private readonly last = new Map<string, string>();
  private readonly drainStage = new Map<string, string>();
  private readonly current = new Map<string, NodeHealth>();

  constructor(private readonly replica: string) {}

  apply(event: AnyCoordinatorEvent): HealthChange[] {
    switch (event.type) {
      case 'agent.disconnected': {
        const node = event.data.node;
        this.current.delete(node);
        if (!this.last.delete(node)) return [];
        return [{ node, health: null }];
      }
      case 'agent.report':
      case 'agent.connected':
      case 'agent.stale': {
        const d = event.data;
        if (!d.connected && !this.current.has(d.node)) return [];
        const health: NodeHealth = {
          node: d.node,
          site: d.site,
          replica: this.replica,
          state: d.state,
          healthy: d.healthy,
          announcing: [...d.announcing].sort(),
          stale: d.stale,
          drainStage: this.drainStage.get(d.node) ?? null,
          ...(d.drainState && !d.stale ? { drainState: d.drainState } : {}),
          ...(d.lastSeenAt !== null ? { heardAt: d.lastSeenAt } : {}),
        };
        return this.offer(health);
      }
      case 'drain.created':
      case 'drain.progress':
      case 'drain.blocked':
      case 'drain.completed':
      case 'drain.released': {
        const drain = event.data.drain;
        const changes: HealthChange[] = [];
        for (const n of drain.nodes) {
          if (drain.status === 'active') this.drainStage.set(n.node, n.stage);
          else this.drainStage.delete(n.node);
          const health = this.current.get(n.node);
          if (health)
            changes.push(...this.offer({ ...health, drainStage: this.drainStage.get(n.node) ?? null }));
        }
        return changes;
      }
      default:
        return [];
    }
  }

  private offer(health: NodeHealth): HealthChange[] {
    this.current.set(health.node, health);
    // The report time alone is no change (heard-times.ts shares it once per period instead).
    const { heardAt: _heardAt, ...state } = health;
    const key = JSON.stringify(state);
    if (this.last.get(health.node) === key) return [];
    this.last.set(health.node, key);
    return [{ node: health.node, health }];
  }

  /** Every node this replica serves now (to write again under a new lease). */
  served(): NodeHealth[] {
    return [...this.current.values()];
  }

  /** The names of the nodes whose agents are connected here. */
  servedNodes(): Iterable<string> {
    return this.current.keys();
  }
}

/** The shared board on etcd. */
export class EtcdHealthBoard {
  private readonly mirror: PrefixMirror;
  private readonly tracker: NodeHealthTracker;
  private readonly unsubscribe: () => void;
  private readonly base: string;
  /** Writes made to etcd (puts and deletes), for tests and logs. */
  writes = 0;
  /**
   * The changes not written yet, node → its latest health (null: its agent left). A node changed
   * twice before its write is written once, with the latest state; the order of writes per node is
   * kept because one flush runs at a time.
   */
  private readonly pending = new Map<string, NodeHealth | null>();
  /**
   * The other replicas' entries as last parsed (dropped at every mirror change) and each entry's
   * parse by revision: the policy, drain progress and the status view (once per node) all read
   * the board, and parsing every entry on every read made a status read O(nodes²).
   */
  private others: Map<string, NodeHealth> | undefined;
  private readonly parsed = new Map<string, { revision: string; health: NodeHealth | undefined }>();
  /** What `changedElsewhere` last handed out per node: its entry's revision, site, other replica. */
  private readonly handedOut = new Map<string, { revision: string; site: string; replica: string | null }>();
  /**
   * Mirror changes so far, and how many there had been at the last `changedElsewhere`: it runs
   * every coordinator tick, and with none since, its answer is known without walking the board.
   */
  private mirrorChanges = 0;
  private handedOutAtChange = -1;
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly client: Etcd3,
    prefix: string,
    private readonly lease: ReplicaLease,
    private readonly replica: string,
    events: EventBus,
    private readonly logger: Logger,
  ) {
    this.base = `${prefix}health/`;
    this.mirror = new PrefixMirror(client, this.base, logger, 'the shared node health');
    this.mirror.on('change', () => {
      this.others = undefined;
      this.mirrorChanges++;
    });
    this.tracker = new NodeHealthTracker(replica);
    this.unsubscribe = events.subscribe((event) => {
      for (const change of this.tracker.apply(event)) this.enqueue(change.node, change.health);
    });
    // A new lease (the old one expired with its keys): write every node served here again.
    lease.on('granted', () => {
      for (const health of this.tracker.served()) this.enqueue(health.node, health);
    });
  }

  async start(): Promise<void> {
    await this.mirror.start();
  }

  get rereads(): number {
    return this.mirror.rereads;
  }

  /** The nodes whose agents are connected to this replica (what its heard key covers). */
  servedNodes(): Iterable<string> {
    return this.tracker.servedNodes();
  }

  private enqueue(node: string, health: NodeHealth | null): void {
    this.pending.set(node, health);
    this.flush();
  }

  /**
   * Writes what is pending, up to WRITE_BATCH nodes per etcd Txn: thousands of agents connecting
   * to a restarted replica are on the board in seconds, not one awaited put after another.
   */
  private flush(): void {
    if (this.flushing) return;
    this.flushing = (async () => {
      while (this.pending.size) {
        const batch = [...this.pending].slice(0, WRITE_BATCH);
        for (const [node] of batch) this.pending.delete(node);
        try {
          await this.write(batch);
        } catch (error) {
          this.logger.warn({ err: coerceError(error) }, 'could not write node health to etcd');
        }
      }
    })().finally(() => {
      this.flushing = null;
      // A change queued after the loop's last look.
      if (this.pending.size) this.flush();
    });
  }

  private async write(batch: [string, NodeHealth | null][]): Promise<void> {
    const leaseId = this.lease.id;
    // Without a lease nothing is written: every node served here is when the next is granted.
    if (!leaseId) return;
    const key = (node: string) => Buffer.from(this.base + node);
    const puts = batch.filter((entry): entry is [string, NodeHealth] => entry[1] !== null);
    if (puts.length) {
      this.writes += puts.length;
      await this.client.kv.txn({
        compare: [],
        success: puts.map(([node, health]) => ({
          request_put: { key: key(node), value: Buffer.from(JSON.stringify(health)), lease: leaseId },
        })),
        failure: [],
      });
    }
    // An agent that left: remove its entry, unless another replica (its new one) wrote it since.
    for (const [node] of batch.filter(([, health]) => health === null)) {
      this.writes++;
      await this.client.kv.txn({
        compare: [{ key: key(node), target: 'Lease', result: 'Equal', lease: leaseId }],
        success: [{ request_delete_range: { key: key(node) } }],
        failure: [],
      });
    }
  }

  /**
   * The nodes whose entry written by another replica changed, or went, since the last call:
   * what this replica tells its own listeners (the page, `herald status --watch`), which get no
   * agent event for a node whose agent is connected elsewhere. Compares etcd mod revisions, so
   * only changed entries are parsed, and returns at once when the mirror did not change at all
   * since the last call. `replica` is null when no other replica serves it any more.
   */
  changedElsewhere(): ElsewhereChange[] {
    if (this.handedOutAtChange === this.mirrorChanges) return [];
    this.handedOutAtChange = this.mirrorChanges;
    const changes: ElsewhereChange[] = [];
    const present = new Set<string>();
    for (const [node, entry] of this.mirror.entries) {
      present.add(node);
      const last = this.handedOut.get(node);
      if (last?.revision === entry.modRevision) continue;
      const health = parseHealth(entry.value);
      const replica = health && health.replica !== this.replica ? health.replica : null;
      const site = health?.site ?? last?.site ?? '';
      this.handedOut.set(node, { revision: entry.modRevision, site, replica });
      // This replica's own entries matter only for a node that came over from another one.
      if (replica !== null || last?.replica) changes.push({ node, site, replica });
    }
    for (const [node, last] of this.handedOut) {
      if (present.has(node)) continue;
      this.handedOut.delete(node);
      if (last.replica) changes.push({ node, site: last.site, replica: null });
    }
    return changes;
  }

  /** Every node another live replica serves: node → health (this replica's own entries left out). */
  otherReplicasHealth(): ReadonlyMap<string, NodeHealth> {
    if (this.others) return this.others;
    const others = new Map<string, NodeHealth>();
    for (const [node, entry] of this.mirror.entries) {
      let cached = this.parsed.get(node);
      if (cached?.revision !== entry.modRevision) {
        cached = { revision: entry.modRevision, health: parseHealth(entry.value) };
        this.parsed.set(node, cached);
      }
      if (cached.health && cached.health.replica !== this.replica) others.set(node, cached.health);
    }
    for (const node of this.parsed.keys()) if (!this.mirror.entries.has(node)) this.parsed.delete(node);
    this.others = others;
    return others;
  }

  /** Resolves once every queued write is done (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  async stop(): Promise<void> {
    this.unsubscribe();
    await this.idle();
    await this.mirror.stop();
  }
}

/** A board entry, or undefined when it cannot be read (counted as unknown: absent). */
function parseHealth(value: Buffer): NodeHealth | undefined {
  try {
    return JSON.parse(value.toString('utf8')) as NodeHealth;
  } catch {
    return undefined;
  }
}
