/**
 * The coordinator's store contract, met by two engines: the embedded SQLite file (one
 * coordinator) and etcd (replicas sharing one cluster). Reads are plain queries; every change
 * goes through `commit`, one atomic batch (a drain and its audit entry land together or not at
 * all).
 *
 * Decisions (a drain allowed by the policy, a release, a window change) read the drains and
 * windows with `readDecisionState`, which returns them with the revision they were read at,
 * and commit with `ifUnchangedSince: revision`: the batch is applied only if no drain or window
 * changed after that read, otherwise `StoreConflictError` and nothing is applied, and the caller
 * reads again and decides again. Within one process a serial queue already orders decisions;
 * across replicas this condition is what keeps two of them from both passing a limit.
 * test/integration/store/store-contract.test.ts holds both engines to this.
 */
import type { AgentDesired } from '../../wire/agent-status.js';
import type { AuditEntry, AuditQuery } from '../../wire/coordinator-api.js';
import type { AuditInput, DrainRecord, WindowRecord } from '../model.js';

export interface StoreBatch {
  /** Drains to insert or replace (by id). */
  drains?: DrainRecord[];
  /** Windows to insert or replace (by id). */
  windows?: WindowRecord[];
  deletedWindows?: string[];
  audit?: AuditInput[];
  /** Desired state per node, as last pushed (its revision must only grow). */
  desired?: { node: string; desired: AgentDesired }[];
}

export interface DrainFilter {
  status: 'active' | 'released' | 'all';
  site?: string;
  limit?: number;
}

/** The store could not be opened at start; the coordinator refuses to start with this message. */
export class StoreOpenError extends Error {
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.name = 'StoreOpenError';
  }
}

/** Why a store could not write, as an operator reads it in the 503 and the log. */
export type StoreFault =
  | 'disk full'
  | 'store read-only'
  | 'disk I/O error'
  | 'store busy'
  /** etcd: no member answered, or the cluster has no quorum (nothing applied). */
  | 'store unreachable'
  /** etcd: the request was sent but no answer came in time: it may or may not be applied. */
  | 'store timed out'
  /** etcd: the connection broke after the request was sent: it may or may not be applied. */
  | 'store connection lost'
  /** etcd: the credentials were refused. */
  | 'store permission denied';

/**
 * A change the store could not write (disk full, read-only, I/O error, busy): none of the batch
 * was applied. Backends throw it from `commit`; the API answers it with 503.
 */
export class StoreWriteError extends Error {
  constructor(
    readonly fault: StoreFault,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StoreWriteError';
  }

  /** Whether the batch may have been applied after all (an answer that never came). */
  get outcomeUnknown(): boolean {
    return this.fault === 'store timed out' || this.fault === 'store connection lost';
  }
}

/**
 * A read the store could not answer (etcd unreachable, no quorum, credentials refused). It is a
 * StoreWriteError so the API answers it the same way: 503 with the fault named.
 */
export class StoreReadError extends StoreWriteError {
  constructor(fault: StoreFault, message: string, options?: { cause?: unknown }) {
    super(fault, message, options);
    this.name = 'StoreReadError';
  }
}

/**
 * A conditioned commit found that a drain or window changed after the revision its decision
 * read: nothing was applied; read again and decide again.
 */
export class StoreConflictError extends Error {
  constructor(
    readonly readRevision: string,
    options?: { cause?: unknown },
  ) {
    super(`the drains or windows changed after revision ${readRevision}; nothing was applied`, options);
    this.name = 'StoreConflictError';
  }
}

/** The state a drain, release or window decision depends on, read at one revision. */
export interface DecisionState {
  /**
   * Opaque and only comparable by the same store (etcd's revision is a 64-bit integer, kept
   * as a decimal string so it never loses precision).
   */
  revision: string;
  /** Active drains, newest first. */
  drains: DrainRecord[];
  /** Every window, oldest first. */
  windows: WindowRecord[];
}

/**
 * The leadership a singleton write is made under (replicas/leadership.ts): the leader key's
 * create revision and the lease bound to it, both 64-bit etcd integers kept as decimal strings.
 * The embedded SQLite engine has one coordinator, always leader: its fence is `SOLO_FENCE`.
 */
export interface Fence {
  /** The replica holding it (for messages). */
  replica: string;
  /** Create revision of `<prefix>leader`: changes with every new leadership, never repeats. */
  revision: string;
  /** The lease the leader key is bound to. */
  lease: string;
}

/** The fence of the only coordinator of an embedded store. */
export const SOLO_FENCE: Fence = { replica: 'solo', revision: '0', lease: '0' };

/**
 * A fenced commit found that its leadership is over (the leader key is gone or belongs to a
 * newer leadership): nothing was applied. The replica must stop acting as leader.
 */
export class NotLeaderError extends Error {
  constructor(
    readonly fence: Fence,
    /** The leader key's create revision now, or null when there is no leader key. */
    readonly currentRevision: string | null,
  ) {
    super(
      `replica ${fence.replica} no longer leads (its leadership began at revision ${fence.revision}; ` +
        `the leader key is ${currentRevision === null ? 'gone' : `now from revision ${currentRevision}`}); nothing was applied`,
    );
    this.name = 'NotLeaderError';
  }
}

export interface CommitOptions {
  /**
   * Apply the batch only if no drain or window changed after this revision (from
   * `readDecisionState`); otherwise throw StoreConflictError with nothing applied.
   */
  ifUnchangedSince?: string;
  /**
   * Singleton work (windows, drain steps, panic, router verification): apply the batch only if
   * this leadership still holds (etcd compares the leader key's create revision in the same
   * Txn); otherwise throw NotLeaderError with nothing applied. SQLite: always holds.
   */
  fencedBy?: Fence;
}

export interface CoordinatorStore {
  /**
   * Applies the whole batch atomically; returns the audit entries as stored (with ids, which
   * grow with every commit). A batch the store cannot take throws StoreWriteError, with nothing
   * applied (unless `outcomeUnknown`); a failed condition throws StoreConflictError, a lost
   * leadership NotLeaderError (checked first).
   */
  commit(batch: StoreBatch, options?: CommitOptions): Promise<AuditEntry[]>;
  /** Active drains and every window with the revision they were read at (one consistent read). */
  readDecisionState(): Promise<DecisionState>;
  getDrain(id: string): Promise<DrainRecord | null>;
  /** Newest first. */
  listDrains(filter: DrainFilter): Promise<DrainRecord[]>;
  getWindow(id: string): Promise<WindowRecord | null>;
  listWindows(): Promise<WindowRecord[]>;
  /** Newest first. */
  queryAudit(query: AuditQuery): Promise<AuditEntry[]>;
  loadDesired(): Promise<Map<string, AgentDesired>>;
  close(): Promise<void>;
}
