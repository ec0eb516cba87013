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

export interface CoordinatorStore {
  /** Applies the whole batch atomically; returns the audit entries as stored (with ids). */
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
