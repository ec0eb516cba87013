/**
 * The drains this replica tracks (active ones, and released ones while their release
 * progresses), kept in agreement with the store: one serial queue for every change, commits
 * conditioned on the revision a decision read, and what other replicas stored taken over
 * (`adopt`). DrainService (drain-service.ts) builds the drain operations on it.
 *
 * Decisions are made against the state they read (`decide`): read the drains and windows from
 * the store with their revision, bring this replica's view in line with them, evaluate against
 * that state, and commit only if nothing changed since (`ifUnchangedSince`). When another replica
 * changed the drains or windows meanwhile the store refuses the commit (StoreConflictError,
 * nothing applied) and the decision is made again on a fresh read, a bounded number of times;
 * then DecisionContendedError. Two conflicting changes are never both applied.
 */
import type { Logger } from '../util/log.js';
import type { AuditEntry, DrainView } from '../wire/coordinator-api.js';
import { DecisionContendedError, notStored } from './domain-errors.js';
import type { EventBus } from './events.js';
import { activeDrains } from './holds.js';
import type { DrainRecord, WindowRecord } from './model.js';
import { SerialQueue } from './serial-queue.js';
import {
  StoreConflictError,
  StoreWriteError,
  type CoordinatorStore,
  type DecisionState,
  type StoreBatch,
} from './store/store.js';

export interface TrackedDrainsOptions {
  store: CoordinatorStore;
  events: EventBus;
  logger: Logger;
  clock: () => number;
  /** The windows as read with a decision state (the window runner adopts them). */
  adoptWindows: (windows: readonly WindowRecord[]) => void;
  /** The store answered (or failed: its fault) — for the store health this replica shows. */
  storeOutcome: (error: StoreWriteError | null) => void;
  /** Something another replica changed was adopted: a reconcile pass is due. */
  adopted: () => void;
  /**
   * While the store is known to fail (etcd: the probe found it so), its failure: a decision is
   * refused with it at once instead of waiting for the store client's deadline. Absent: never.
   */
  storeFailure?: () => StoreWriteError | null;
}

/** How many times a decision is made again after another replica changed what it read. */
export const DECISION_ATTEMPTS = 5;

/**
 * The fields of a drain another replica may have changed (the rest is live detail kept here).
 * The nodes' stages are among them: the leader stores each stage change, and a replica whose view
 * an operator follows (`herald drain --wait`, the page) shows them as the leader decided them.
 */
function decisionFields(d: DrainRecord): string {
  return JSON.stringify([
    d.status,
    d.phase,
    d.phaseChangedAt,
    d.overdue,
    d.completedAt,
    d.releasedAt,
    d.nodes.map((n) => [n.node, n.stage, n.stale]),
  ]);
}

/** Merges store batches into one (one atomic commit). */
export function mergeBatches(...batches: (StoreBatch | undefined)[]): StoreBatch {
  const merged: Required<Pick<StoreBatch, 'drains' | 'windows' | 'deletedWindows' | 'audit'>> = {
    drains: [],
    windows: [],
    deletedWindows: [],
    audit: [],
  };
  for (const b of batches) {
    merged.drains.push(...(b?.drains ?? []));
    merged.windows.push(...(b?.windows ?? []));
    merged.deletedWindows.push(...(b?.deletedWindows ?? []));
    merged.audit.push(...(b?.audit ?? []));
  }
  return merged;
}

export abstract class TrackedDrains {
  protected readonly drains = new Map<string, DrainRecord>();
  private readonly queue = new SerialQueue();
  /** The revision this view was last brought in line with the store at; null after a change of ours. */
  private syncedRevision: string | null = null;
  /** Commits of ours so far: a state read before one of them is not adopted after it. */
  private commits = 0;

  constructor(private readonly t: TrackedDrainsOptions) {}

  /** Takes the drains read from the store at start. */
  load(drains: readonly DrainRecord[]): void {
    for (const drain of drains) this.drains.set(drain.id, drain);
  }

  /** Every change runs through one queue (serial-queue.ts). */
  serial<T>(task: () => Promise<T>): Promise<T> {
    return this.queue.run(task);
  }

  idle(): Promise<void> {
    return this.queue.idle();
  }

  // ---------------------------------------------------------------- the drains this replica tracks

  all(): DrainRecord[] {
    return [...this.drains.values()];
  }

  get size(): number {
    return this.drains.size;
  }

  get(id: string): DrainRecord | undefined {
    return this.drains.get(id);
  }

  set(drain: DrainRecord): void {
    this.drains.set(drain.id, drain);
  }

  forget(id: string): void {
    this.drains.delete(id);
  }

  /** The drain as the API shows it (events carry it). */
  abstract view(record: DrainRecord, now?: number): DrainView;

  /**
   * Commits a batch and then emits its audit entries as events. With `revision` (from the
   * decision state it was decided on) the store applies it only if no drain or window changed
   * since, else StoreConflictError.
   */
  async commit(batch: StoreBatch, revision?: string): Promise<AuditEntry[]> {
    let entries: AuditEntry[];
    try {
      entries = await this.t.store.commit(
        batch,
        revision === undefined ? {} : { ifUnchangedSince: revision },
      );
    } catch (error) {
      if (error instanceof StoreWriteError) this.t.storeOutcome(error);
      else if (error instanceof StoreConflictError) {
        this.t.storeOutcome(null);
        this.syncedRevision = null;
      }
      throw error;
    }
    this.t.storeOutcome(null);
    if (batch.drains?.length || batch.windows?.length || batch.deletedWindows?.length) {
      this.commits++;
      this.syncedRevision = null;
    }
    for (const entry of entries) this.t.events.emit('audit', { entry }, entry.at);
    return entries;
  }

  // ---------------------------------------------------------------- agreeing with the store

  /** The revision the view is in line with, or null when a change of ours came after it. */
  get revision(): string | null {
    return this.syncedRevision;
  }

  /** Reads the decision state and brings this replica's view in line with it. Inside the queue. */
  async sync(): Promise<DecisionState> {
    let state: DecisionState;
    try {
      state = await this.t.store.readDecisionState();
    } catch (error) {
      if (error instanceof StoreWriteError) this.t.storeOutcome(error);
      throw error;
    }
    this.t.storeOutcome(null);
    await this.adopt(state);
    return state;
  }

  /** The commits of ours so far (see `adoptIfCurrent`). */
  get commitCount(): number {
    return this.commits;
  }

  /**
   * Adopts a state read outside the queue (the store health probe), unless a change of ours was
   * committed after it was read (`commitsBefore` is `commitCount` taken before the read).
   */
  async adoptIfCurrent(state: DecisionState, commitsBefore: number): Promise<void> {
    if (this.commits !== commitsBefore) return;
    if (this.syncedRevision !== null && BigInt(state.revision) < BigInt(this.syncedRevision)) return;
    await this.adopt(state);
  }

  /**
   * Brings the view in line with a decision state: drains and windows another replica stored,
   * changed or released. Live detail (node progress) of an unchanged drain stays as tracked here.
   */
  private async adopt(state: DecisionState): Promise<void> {
    const now = this.t.clock();
    let changed = false;
    const stored = new Map(state.drains.map((d) => [d.id, d]));
    for (const drain of state.drains) {
      const mine = this.drains.get(drain.id);
      if (mine && decisionFields(mine) === decisionFields(drain)) continue;
      this.drains.set(drain.id, drain);
      changed = true;
      // Watchers of this replica (`--wait`, the page) follow the leader's steps as they are stored.
      const type = !mine
        ? 'drain.created'
        : drain.completedAt !== null && mine.completedAt === null
          ? 'drain.completed'
          : drain.status === 'active'
            ? 'drain.progress'
            : null;
      if (type) this.t.events.emit(type, { drain: this.view(drain, now) }, now);
    }
    for (const mine of activeDrains(this.all())) {
      if (stored.has(mine.id)) continue;
      // Released (or gone) elsewhere: take the record as stored.
      const record = await this.t.store.getDrain(mine.id);
      if (record) this.drains.set(record.id, record);
      else this.drains.delete(mine.id);
      changed = true;
      if (record?.status === 'released')
        this.t.events.emit('drain.released', { drain: this.view(record, now) }, now);
    }
    this.t.adoptWindows(state.windows);
    this.syncedRevision = state.revision;
    if (changed) {
      this.t.logger.info({ revision: state.revision }, 'adopted drains changed by another replica');
      this.t.adopted();
    }
  }

  /**
   * Runs `attempt` against a fresh decision state, in the queue: it evaluates against that state
   * and commits with `revision` = state.revision. A conflict reads and decides again, up to
   * DECISION_ATTEMPTS times. Store failures become ChangeNotStoredError naming `what`.
   */
  decide<T>(what: string, attempt: (state: DecisionState) => Promise<T>): Promise<T> {
    // A store known lost refuses at once, not after waiting in the queue behind work that waits
    // out etcd's deadline (a client gives up first and cannot tell whether its change arrived).
    const failure = this.t.storeFailure?.();
    if (failure) return Promise.reject(notStored(what, failure));
    return this.serial(() => this.decideInQueue(what, attempt));
  }

  /** `decide` for a caller already inside the queue (the window runner's tick). */
  async decideInQueue<T>(what: string, attempt: (state: DecisionState) => Promise<T>): Promise<T> {
    const failure = this.t.storeFailure?.();
    if (failure) throw notStored(what, failure);
    for (let tries = 1; ; tries++) {
      try {
        return await attempt(await this.sync());
      } catch (error) {
        if (!(error instanceof StoreConflictError)) throw notStored(what, error);
        this.syncedRevision = null;
        this.t.logger.info(
          { what, attempt: tries },
          `${what}: another replica changed the drains or windows while deciding; deciding again`,
        );
        if (tries >= DECISION_ATTEMPTS) throw new DecisionContendedError(what, tries);
      }
    }
  }
}
