/**
 * The embedded store: one SQLite file (better-sqlite3) in WAL mode with full syncs, so a drain
 * the API acknowledged survives a restart, kill -9 or a power cut. The file is locked
 * exclusively for as long as the coordinator runs: a second coordinator on the same file fails
 * at start instead of splitting the state.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { AgentDesired } from '../../wire/agent-status.js';
import type { AuditEntry, AuditQuery } from '../../wire/coordinator-api.js';
import type { AuditInput, DrainRecord, WindowRecord } from '../model.js';
import type { CoordinatorStore, DrainFilter, StoreBatch } from './store.js';

const SCHEMA_VERSION = 1;

const MIGRATIONS: Record<number, string> = {
  1: `
    CREATE TABLE drains (
      id TEXT PRIMARY KEY,
      status TEXT NOT NULL,
      site TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      doc TEXT NOT NULL
    );
    CREATE INDEX drains_by_status ON drains (status, created_at);
    CREATE TABLE windows (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
    CREATE TABLE audit (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      at INTEGER NOT NULL,
      actor TEXT NOT NULL,
      action TEXT NOT NULL,
      site TEXT,
      target TEXT NOT NULL,
      drain_id TEXT,
      window_id TEXT,
      reason TEXT,
      details TEXT NOT NULL
    );
    CREATE INDEX audit_by_at ON audit (at);
    CREATE INDEX audit_by_drain ON audit (drain_id);
    CREATE INDEX audit_by_window ON audit (window_id);
    CREATE TABLE desired (node TEXT PRIMARY KEY, revision INTEGER NOT NULL, doc TEXT NOT NULL);
  `,
};

interface AuditRow {
  id: number;
  at: number;
  actor: string;
  action: string;
  site: string | null;
  target: string;
  drain_id: string | null;
  window_id: string | null;
  reason: string | null;
  details: string;
}

function auditFromRow(row: AuditRow): AuditEntry {
  return {
    id: row.id,
    at: row.at,
    actor: row.actor,
    action: row.action,
    site: row.site,
    target: row.target,
    drainId: row.drain_id,
    windowId: row.window_id,
    reason: row.reason,
    details: JSON.parse(row.details) as Record<string, unknown>,
  };
}

export class StoreLockedError extends Error {
  constructor(file: string, cause: unknown) {
    super(
      `${file}: expected the store to be free, received a lock held by another process (is a coordinator already running?)`,
      {
        cause,
      },
    );
    this.name = 'StoreLockedError';
  }
}

export class SqliteStore implements CoordinatorStore {
  private readonly db: Database.Database;

  constructor(readonly file: string) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file, { timeout: 2000 });
    try {
      this.db.pragma('locking_mode = EXCLUSIVE');
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.exec('BEGIN IMMEDIATE; COMMIT;'); // takes the exclusive lock now, not at the first write
    } catch (error) {
      this.db.close();
      throw new StoreLockedError(file, error);
    }
    this.migrate();
  }

  private migrate(): void {
    const current = this.db.pragma('user_version', { simple: true }) as number;
    if (current > SCHEMA_VERSION)
      throw new Error(
        `${this.file}: expected a store of schema version ${SCHEMA_VERSION} or older, received ${current} (written by a newer herald)`,
      );
    for (let version = current + 1; version <= SCHEMA_VERSION; version++)
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[version]!);
        this.db.pragma(`user_version = ${version}`);
      })();
  }

  async commit(batch: StoreBatch): Promise<AuditEntry[]> {
    const upsertDrain = this.db.prepare(
      'INSERT INTO drains (id, status, site, created_at, doc) VALUES (?, ?, ?, ?, ?) ' +
        'ON CONFLICT (id) DO UPDATE SET status = excluded.status, doc = excluded.doc',
    );
    const upsertWindow = this.db.prepare(
      'INSERT INTO windows (id, doc) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc',
    );
    const deleteWindow = this.db.prepare('DELETE FROM windows WHERE id = ?');
    const insertAudit = this.db.prepare(
      'INSERT INTO audit (at, actor, action, site, target, drain_id, window_id, reason, details) ' +
        'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *',
    );
    const upsertDesired = this.db.prepare(
      'INSERT INTO desired (node, revision, doc) VALUES (?, ?, ?) ' +
        'ON CONFLICT (node) DO UPDATE SET revision = excluded.revision, doc = excluded.doc',
    );
    return this.db.transaction((b: StoreBatch) => {
      for (const d of b.drains ?? [])
        upsertDrain.run(d.id, d.status, d.target.site, d.createdAt, JSON.stringify(d));
      for (const w of b.windows ?? []) upsertWindow.run(w.id, JSON.stringify(w));
      for (const id of b.deletedWindows ?? []) deleteWindow.run(id);
      for (const { node, desired } of b.desired ?? [])
        upsertDesired.run(node, desired.revision, JSON.stringify(desired));
      return (b.audit ?? []).map((a: AuditInput) =>
        auditFromRow(
          insertAudit.get(
            a.at,
            a.actor,
            a.action,
            a.site,
            a.target,
            a.drainId ?? null,
            a.windowId ?? null,
            a.reason ?? null,
            JSON.stringify(a.details ?? {}),
          ) as AuditRow,
        ),
      );
    })(batch);
  }

  async getDrain(id: string): Promise<DrainRecord | null> {
    const row = this.db.prepare('SELECT doc FROM drains WHERE id = ?').get(id) as { doc: string } | undefined;
    return row ? (JSON.parse(row.doc) as DrainRecord) : null;
  }

  async listDrains(filter: DrainFilter): Promise<DrainRecord[]> {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (filter.status !== 'all') {
      where.push('status = ?');
      params.push(filter.status);
    }
    if (filter.site) {
      where.push('site = ?');
      params.push(filter.site);
    }
    const sql =
      `SELECT doc FROM drains ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ` +
      `ORDER BY created_at DESC, id DESC ${filter.limit ? `LIMIT ${Math.floor(filter.limit)}` : ''}`;
    return (this.db.prepare(sql).all(...params) as { doc: string }[]).map(
      (r) => JSON.parse(r.doc) as DrainRecord,
    );
  }

  async getWindow(id: string): Promise<WindowRecord | null> {
    const row = this.db.prepare('SELECT doc FROM windows WHERE id = ?').get(id) as
      { doc: string } | undefined;
    return row ? (JSON.parse(row.doc) as WindowRecord) : null;
  }

  async listWindows(): Promise<WindowRecord[]> {
    return (this.db.prepare('SELECT doc FROM windows').all() as { doc: string }[])
      .map((r) => JSON.parse(r.doc) as WindowRecord)
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  async queryAudit(query: AuditQuery): Promise<AuditEntry[]> {
    const where: string[] = [];
    const params: (string | number)[] = [];
    const add = (clause: string, value: string | number | undefined) => {
      if (value === undefined) return;
      where.push(clause);
      params.push(value);
    };
    add('drain_id = ?', query.drain);
    add('window_id = ?', query.window);
    add('actor = ?', query.actor);
    add('action = ?', query.action);
    add('site = ?', query.site);
    add('at >= ?', query.since);
    add('at <= ?', query.until);
    params.push(query.limit);
    const sql = `SELECT * FROM audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...params) as AuditRow[]).map(auditFromRow);
  }

  async loadDesired(): Promise<Map<string, AgentDesired>> {
    const rows = this.db.prepare('SELECT node, doc FROM desired').all() as { node: string; doc: string }[];
    return new Map(rows.map((r) => [r.node, JSON.parse(r.doc) as AgentDesired]));
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
