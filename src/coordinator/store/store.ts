/**
 * The coordinator's store, kept behind this small interface so a distributed backend can
 * replace the embedded SQLite one. Reads are plain queries; every change goes through
 * `commit`, one atomic batch (a drain and its audit entry land together or not at all).
 * Async on purpose: a networked backend will need it.
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

/** Why a store could not write, as an operator reads it in the 503 and the log. */
export type StoreFault = 'disk full' | 'store read-only' | 'disk I/O error' | 'store busy';

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
}

export interface CoordinatorStore {
  /**
   * Applies the whole batch atomically; returns the audit entries as stored (with ids). A batch
   * the disk cannot take throws StoreWriteError, with nothing applied.
   */
  commit(batch: StoreBatch): Promise<AuditEntry[]>;
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
