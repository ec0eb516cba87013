/**
 * This coordinator among its replicas: its lease, its leadership, the shared node health and the
 * replica directory, put together for the engine the store uses. SQLite: one coordinator,
 * always leading, a local board. etcd: one lease per replica (replica-lease.ts) binding its
 * leader key, health entries and directory entry.
 *
 * The coordinator uses it through small hooks: `singletonCommit` (the fence for a singleton
 * write, or null when it must not act), `refused` (a fenced write was refused: step down),
 * `grace` (no agent judged stale yet), and `status()` for /status.
 */
import { hostname } from 'node:os';
import type { Logger } from '../../util/log.js';
import { version } from '../../version.js';
import type { ReplicasStatus } from '../../wire/coordinator-api.js';
import type { CoordinatorConfig } from '../config-schema.js';
import type { EventBus } from '../events.js';
import type { EtcdStore } from '../store/etcd-store.js';
import { NotLeaderError, SOLO_FENCE, type CommitOptions, type CoordinatorStore } from '../store/store.js';
import type { ElsewhereChange } from '../events.js';
import { EtcdHealthBoard, type NodeHealth } from './health-board.js';
import { EtcdHeardBoard } from './heard-board.js';
import { heardPeriodMs, lastHeardAt, servedHeardTimes } from './heard-times.js';
import { EtcdLeadership, SoloLeadership, type Leadership } from './leadership.js';
import { EtcdReplicaDirectory, SoloDirectory, type ReplicaDirectory } from './replica-directory.js';
import { PrefixMirror } from './prefix-mirror.js';
import { ReplicaLease } from './replica-lease.js';
import { StaleGrace } from './stale-grace.js';
import { fencedStore, fenceScope } from './fenced-store.js';

export interface ReplicaSet {
  readonly engine: 'sqlite' | 'etcd';
  /** This replica's id (known after start). */
  readonly id: string;
  readonly grace: StaleGrace;
  /** Known after start. */
  readonly leadership: Leadership;
  /** Starts leadership, the board and the directory once the server's URL is known. */
  start(events: EventBus, url: string): Promise<void>;
  /** Whether singleton work may run now. */
  isLeader(): boolean;
  /** Commit options of a singleton write (fenced), or null when this replica must not act. */
  singletonCommit(): CommitOptions | null;
  /** A write failed: when it was a refused fence, step down (returns true). */
  refused(error: unknown): boolean;
  /**
   * Runs singleton work when this replica leads, inside the fence scope (every commit fenced,
   * fenced-store.ts); false without running it otherwise. The first time under a new leadership,
   * `catchUp(true)` runs first (read what the previous leader did before acting), and
   * `catchUp(false)` every second after (what other replicas changed).
   */
  runAsLeader(
    work: () => Promise<void>,
    catchUp: (newLeadership: boolean) => Promise<void>,
  ): Promise<boolean>;
  runAsReplica<T>(work: () => Promise<T>): Promise<T>;
  /** The store with every commit inside `runAsLeader` fenced (give this one to the coordinator). */
  fenced(store: CoordinatorStore): CoordinatorStore;
  /**
   * The health of the nodes other live replicas serve (the health board without this replica's
   * own entries): what drain decisions, drain progress and the views read for nodes whose agents
   * are connected elsewhere. Empty with one coordinator.
   */
  otherReplicasHealth(): ReadonlyMap<string, NodeHealth>;
  /** Nodes served by other replicas whose board entry changed or went since the last call. */
  changedElsewhere(): ElsewhereChange[];
  /**
   * Where the last report times of this replica's agents are read (the coordinator's reports):
   * shared with the other replicas once per period (heard-board.ts). Call before `start`.
   */
  shareReportTimes(reports: () => ReadonlyMap<string, { receivedAt: number }>): void;
  /**
   * When a node another replica serves was last heard, as far as this replica can tell
   * (heard-times.ts `lastHeardAt`: never later than the truth, at most a period behind it).
   */
  lastHeardAt(health: NodeHealth): number | null;
  /**
   * Calls `listener` whenever any replica stored a decision (a drain or window change: the
   * store's decision key moved), so this one reads it at once instead of at its next interval.
   * Never with one coordinator (nobody else decides).
   */
  onDecisionChange(listener: () => void): void;
  status(): ReplicasStatus;
  stop(): Promise<void>;
}

export interface ReplicaSetOptions {
  config: CoordinatorConfig;
  store: CoordinatorStore;
  logger: Logger;
}

/** The replica set for the configured engine. */
export function createReplicaSet(options: ReplicaSetOptions): ReplicaSet {
  return options.config.store.engine === 'etcd' && 'coordination' in options.store
    ? new EtcdReplicaSet(options, options.store as EtcdStore)
    : new SoloReplicaSet(options);
}

function defaultId(config: CoordinatorConfig, url: string): string {
  const store = config.store;
  if (store.engine === 'etcd' && store.replicaId) return store.replicaId;
  return `${hostname()}:${new URL(url).port || config.listen.port}`;
}

function advertised(config: CoordinatorConfig, url: string): string {
  return (config.store.engine === 'etcd' && config.store.advertiseUrl) || url;
}

abstract class BaseReplicaSet {
  readonly grace: StaleGrace;
  protected replicaId = '';
  protected readonly startedAt = Date.now();
  protected abstract directory: ReplicaDirectory | undefined;
  protected abstract board: EtcdHealthBoard | undefined;
  protected heard: EtcdHeardBoard | undefined;
  protected reportTimes: () => ReadonlyMap<string, { receivedAt: number }> = () => new Map();
  abstract readonly leadership: Leadership;
  abstract readonly engine: 'sqlite' | 'etcd';
  protected abstract readonly leaseTtl: number | null;

  constructor(
    protected readonly options: ReplicaSetOptions,
    graceMs: number,
  ) {
    this.grace = new StaleGrace(graceMs);
  }

  get id(): string {
    return this.replicaId;
  }

  isLeader(): boolean {
    return this.leadership.isLeader();
  }

  singletonCommit(): CommitOptions | null {
    const fence = this.leadership.fence();
    return fence ? { fencedBy: fence } : null;
  }

  refused(error: unknown): boolean {
    if (!(error instanceof NotLeaderError)) return false;
    this.leadership.refused(error);
    return true;
  }

  /** The leadership (fence revision) whose catch-up ran. */
  protected caughtUp: string | undefined;

  /** When the last catch-up ran (performance.now()). */
  private caughtUpAt = 0;
  /**
   * How often the leader reads again what other replicas changed (drains requested, released,
   * windows added on them), besides once at the start of each leadership.
   */
  protected catchUpEveryMs = 1000;

  async runAsLeader(
    work: () => Promise<void>,
    catchUp: (newLeadership: boolean) => Promise<void>,
  ): Promise<boolean> {
    const fence = this.leadership.fence();
    if (!fence) return false;
    if (this.caughtUp !== fence.revision || performance.now() - this.caughtUpAt >= this.catchUpEveryMs) {
      await catchUp(this.caughtUp !== fence.revision);
      this.caughtUp = fence.revision;
      this.caughtUpAt = performance.now();
    }
    await fenceScope.run(fence, work);
    return true;
  }

  /** Work that is not the leader's: outside any fence scope it may have been scheduled from. */
  runAsReplica<T>(work: () => Promise<T>): Promise<T> {
    return fenceScope.exit(work);
  }

  fenced(store: CoordinatorStore): CoordinatorStore {
    return fencedStore(store, (error) => this.leadership.refused(error));
  }

  otherReplicasHealth(): ReadonlyMap<string, NodeHealth> {
    return this.board?.otherReplicasHealth() ?? new Map();
  }

  changedElsewhere(): ElsewhereChange[] {
    return this.board?.changedElsewhere() ?? [];
  }

  shareReportTimes(reports: () => ReadonlyMap<string, { receivedAt: number }>): void {
    this.reportTimes = reports;
  }

  lastHeardAt(health: NodeHealth): number | null {
    return lastHeardAt(health, this.heard?.timesOf(health.replica));
  }

  onDecisionChange(_listener: () => void): void {
    // one coordinator: every decision is its own
  }

  status(): ReplicasStatus {
    const leader = this.leadership.leader();
    const leading = this.leadership.isLeader();
    const list = this.directory?.replicas() ?? [];
    return {
      engine: this.engine,
      self: this.replicaId,
      leader: leading ? this.replicaId : (leader?.id ?? null),
      leading,
      leaseTtl: this.leaseTtl,
      staleGraceRemaining: Math.round(this.grace.remainingMs),
      list: list.map((r) => ({
        ...r,
        leader: leading ? r.id === this.replicaId : r.id === leader?.id,
        self: r.id === this.replicaId,
      })),
    };
  }
}

class SoloReplicaSet extends BaseReplicaSet implements ReplicaSet {
  readonly engine = 'sqlite' as const;
  protected readonly leaseTtl = null;
  protected directory: ReplicaDirectory | undefined;
  // One coordinator: no other replica serves any node.
  protected readonly board = undefined;
  private solo: SoloLeadership | undefined;
  // The only coordinator loaded everything at start: nothing to catch up on.
  protected override caughtUp: string | undefined = SOLO_FENCE.revision;
  protected override catchUpEveryMs = Infinity;

  // One coordinator: no other replica's agents to wait for, staleness as before replicas.
  constructor(options: ReplicaSetOptions) {
    super(options, 0);
  }

  get leadership(): Leadership {
    return (this.solo ??= new SoloLeadership({ id: this.replicaId || 'solo', url: null }));
  }

  async start(events: EventBus, url: string): Promise<void> {
    this.replicaId = defaultId(this.options.config, url);
    this.solo = new SoloLeadership({ id: this.replicaId, url });
    this.directory = new SoloDirectory({ id: this.replicaId, url, startedAt: this.startedAt, version });
  }

  async stop(): Promise<void> {}
}

class EtcdReplicaSet extends BaseReplicaSet implements ReplicaSet {
  readonly engine = 'etcd' as const;
  protected readonly leaseTtl: number;
  protected directory: EtcdReplicaDirectory | undefined;
  protected board: EtcdHealthBoard | undefined;
  private readonly lease: ReplicaLease;
  private etcdLeadership: EtcdLeadership | undefined;
  private readonly coordination: ReturnType<EtcdStore['coordination']>;
  /** A watch of the store's decision key (what `onDecisionChange` listens to). */
  private decisions: PrefixMirror | undefined;
  private readonly decisionListeners: (() => void)[] = [];

  constructor(options: ReplicaSetOptions, store: EtcdStore) {
    super(options, options.config.agents.staleGrace);
    const config = options.config.store;
    this.leaseTtl = config.engine === 'etcd' ? config.leaseTtl : 10_000;
    this.coordination = store.coordination();
    this.lease = new ReplicaLease(
      this.coordination.client,
      Math.round(this.leaseTtl / 1000),
      options.logger,
      this.coordination.timeoutMs,
    );
  }

  /** Not leading until started (no singleton work before the lease and the campaign). */
  get leadership(): Leadership {
    return this.etcdLeadership ?? NOT_STARTED;
  }

  /** The board, for tests counting its writes. */
  get healthBoard(): EtcdHealthBoard | undefined {
    return this.board;
  }

  async start(events: EventBus, url: string): Promise<void> {
    const { client, prefix } = this.coordination;
    const { logger, config } = this.options;
    this.replicaId = defaultId(config, url);
    const self = { id: this.replicaId, url: advertised(config, url) };
    await this.lease.start();
    this.directory = new EtcdReplicaDirectory(
      client,
      prefix,
      this.lease,
      { ...self, startedAt: this.startedAt, version },
      logger,
    );
    const board = new EtcdHealthBoard(client, prefix, this.lease, this.replicaId, events, logger);
    this.board = board;
    this.heard = new EtcdHeardBoard({
      client,
      prefix,
      lease: this.lease,
      replica: this.replicaId,
      logger,
      periodMs: heardPeriodMs(config.agents.staleAfter),
      times: () => servedHeardTimes(board.servedNodes(), this.reportTimes()),
    });
    await this.directory.start();
    await this.board.start();
    await this.heard.start();
    const leadership = new EtcdLeadership(client, prefix, this.lease, self, logger);
    // A new leader judges no agent stale before they had time to report (to it, or to the board).
    leadership.on('change', (leading) => {
      if (leading) this.grace.restart();
    });
    this.etcdLeadership = leadership;
    await leadership.start();
    this.decisions = new PrefixMirror(client, `${prefix}decision`, logger, 'the decision key');
    this.decisions.on('change', () => {
      for (const listener of this.decisionListeners) listener();
    });
    await this.decisions.start();
  }

  override onDecisionChange(listener: () => void): void {
    this.decisionListeners.push(listener);
  }

  async stop(): Promise<void> {
    await this.decisions?.stop();
    await this.etcdLeadership?.stop();
    await this.heard?.stop();
    await this.board?.stop();
    await this.directory?.stop();
    await this.lease.stop();
  }
}

/** The leadership of a replica not started yet: never leads. */
const NOT_STARTED: Leadership = Object.assign(new SoloLeadership({ id: '', url: null }), {
  isLeader: () => false,
  fence: () => undefined,
  leader: () => null,
});
