/**
 * The embedded store: one SQLite file (better-sqlite3) in WAL mode with full syncs, so a drain
 * the API acknowledged survives a restart, kill -9 or a power cut. The file is locked
 * exclusively for as long as the coordinator runs: a second coordinator on the same file fails
 * at start instead of splitting the state.
 */
import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { AgentDesired } from '../../wire/agent-status.js';
import type { AuditEntry, AuditQuery } from '../../wire/coordinator-api.js';
import type { AuditInput, DrainRecord, WindowRecord } from '../model.js';
import {
  StoreConflictError,
  StoreOpenError,
  StoreWriteError,
  type CommitOptions,
  type CoordinatorStore,
  type DecisionState,
  type DrainFilter,
  type StoreBatch,
  type StoreFault,
} from './store.js';

export { StoreOpenError };

const SCHEMA_VERSION = 2;

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
  // The decision revision: grows with every commit that changes a drain or a window, so a
  // conditioned commit can tell whether what its decision read is still current.
  2: `
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT INTO meta (key, value) VALUES ('decision_revision', 0);
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

/** Another process (a second coordinator) holds the store's lock. */
export class StoreLockedError extends StoreOpenError {
  constructor(file: string, cause: unknown) {
    super(
      `${file}: expected the store to be free, received a lock held by another process (is a coordinator already running?)`,
      cause,
    );
    this.name = 'StoreLockedError';
  }
}

/** The store's directory or files cannot be written: a read-only mount, permissions, a full or failing disk. */
export class StoreNotWritableError extends StoreOpenError {
  constructor(file: string, cause: unknown) {
    const dir = dirname(file);
    const unwritable = directoryProblem(dir);
    super(
      `${dir}: expected a writable data directory for the store ${basename(file)}, received ` +
        `${unwritable ? `${unwritable}; opening the store failed with: ` : ''}${describeCause(cause)}`,
      cause,
    );
    this.name = 'StoreNotWritableError';
  }
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

/** "disk I/O error (SQLITE_IOERR_LOCK)", "EACCES: permission denied, mkdir '/var/lib/herald'". */
function describeCause(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = codeOf(error);
  return code && !message.includes(code) ? `${message} (${code})` : message;
}

/**
 * Why `dir` (or, when it does not exist yet, the nearest directory above it) cannot be written:
 * "a directory that is not writable (EROFS: read-only file system)"; null when it can.
 */
function directoryProblem(dir: string): string | null {
  let existing = dir;
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  try {
    accessSync(existing, constants.W_OK);
    return null;
  } catch (error) {
    const why = (error instanceof Error ? error.message : String(error)).split(',')[0]!;
    return existing === dir
      ? `a directory that is not writable (${why})`
      : `a directory that cannot be created: ${existing} is not writable (${why})`;
  }
}

/** What a failure of SQLite or the file system says about the store; null when it names nothing we know. */
function faultOf(error: unknown): 'locked' | StoreFault | null {
  const code = codeOf(error);
  if (/^SQLITE_(BUSY|LOCKED)/.test(code)) return 'locked';
  if (code === 'SQLITE_FULL' || code === 'ENOSPC') return 'disk full';
  if (/^SQLITE_READONLY/.test(code) || ['EROFS', 'EACCES', 'EPERM'].includes(code)) return 'store read-only';
  if (/^SQLITE_(IOERR|CANTOPEN)/.test(code) || code === 'EIO') return 'disk I/O error';
  return null;
}

export class SqliteStore implements CoordinatorStore {
  private readonly db: Database.Database;

  /**
   * Opens (or creates) the store and takes its lock. Throws StoreLockedError when another
   * process holds it, StoreNotWritableError when the directory or file cannot be written.
   */
  constructor(readonly file: string) {
    let db: Database.Database | undefined;
    try {
      if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
      db = new Database(file, { timeout: 2000 });
      db.pragma('locking_mode = EXCLUSIVE');
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.exec('BEGIN IMMEDIATE; COMMIT;'); // takes the exclusive lock now, not at the first write
    } catch (error) {
      db?.close();
      const fault = faultOf(error);
      if (fault === 'locked') throw new StoreLockedError(file, error);
      if (fault || directoryProblem(dirname(file))) throw new StoreNotWritableError(file, error);
      throw new StoreOpenError(`${file}: could not open the store: ${describeCause(error)}`, error);
    }
    this.db = db;
    try {
      this.migrate();
    } catch (error) {
      db.close();
      const fault = faultOf(error);
      if (fault && fault !== 'locked') throw new StoreNotWritableError(file, error);
      throw error; // e.g. a store written by a newer herald
    }
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

  async commit(batch: StoreBatch, options: CommitOptions = {}): Promise<AuditEntry[]> {
    try {
      return this.write(batch, options);
    } catch (error) {
      const fault = faultOf(error);
      if (!fault) throw error;
      // The transaction was rolled back: nothing of the batch is stored.
      throw new StoreWriteError(
        fault === 'locked' ? 'store busy' : fault,
        `${this.file}: could not write the store: ${describeCause(error)}`,
        { cause: error },
      );
    }
  }

  private decisionRevision(): number {
    return (
      this.db.prepare("SELECT value FROM meta WHERE key = 'decision_revision'").get() as { value: number }
    ).value;
  }

  private write(batch: StoreBatch, options: CommitOptions): AuditEntry[] {
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
    const changesDecisions = Boolean(
      batch.drains?.length || batch.windows?.length || batch.deletedWindows?.length,
    );
    // `options.fencedBy` always holds: the file has one coordinator, always the leader.
    return this.db.transaction((b: StoreBatch) => {
      const since = options.ifUnchangedSince;
      if (since !== undefined && this.decisionRevision() > Number(since)) throw new StoreConflictError(since);
      if (changesDecisions)
        this.db.prepare("UPDATE meta SET value = value + 1 WHERE key = 'decision_revision'").run();
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

  async readDecisionState(): Promise<DecisionState> {
    // Synchronous reads in one transaction: nothing can commit in between.
    return this.db.transaction(() => ({
      revision: String(this.decisionRevision()),
      drains: (
        this.db
          .prepare("SELECT doc FROM drains WHERE status = 'active' ORDER BY created_at DESC, id DESC")
          .all() as { doc: string }[]
      ).map((r) => JSON.parse(r.doc) as DrainRecord),
      windows: (this.db.prepare('SELECT doc FROM windows').all() as { doc: string }[])
        .map((r) => JSON.parse(r.doc) as WindowRecord)
        .sort((a, b) => a.createdAt - b.createdAt),
    }))();
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
