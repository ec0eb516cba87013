/**
 * The shared store: the coordinator's records in an etcd cluster, for several replicas. Each
 * record is one JSON value under the configured prefix:
 *
 *   <prefix>drains/<id>   <prefix>windows/<id>   <prefix>desired/<node>   <prefix>audit/<random>
 *   <prefix>decision      rewritten by every commit that changes a drain or a window
 *
 * A commit is one etcd Txn. A conditioned commit (`ifUnchangedSince`) compares the `decision`
 * key's mod revision with the revision its decision read at, so two replicas that decided on the
 * same state cannot both commit. An audit entry's id is the Txn's revision × 1000 + its place in
 * the batch: ids grow with every commit and never collide between replicas.
 *
 * The client is npm `etcd3` with its retries and circuit breakers switched off (docs/etcd-store.md
 * says why): a Txn is never sent twice behind our back, every call has a deadline, and a failure
 * becomes a StoreWriteError/StoreReadError naming it ("store unreachable", "store timed out").
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { handleWhen, noop, retry } from 'cockatiel';
import {
  Etcd3,
  EtcdPermissionDeniedError,
  GRPCDeadlineExceededError,
  GRPCUnauthenticatedError,
  GRPCUnavailableError,
  GRPCUnknownError,
  EtcdAuthenticationFailedError,
  EtcdInvalidAuthTokenError,
  type IKeyValue,
  type IRequestOp,
  type IOptions,
} from 'etcd3';
import type { AgentDesired } from '../../wire/agent-status.js';
import type { AuditEntry, AuditQuery } from '../../wire/coordinator-api.js';
import type { AuditInput, DrainRecord, WindowRecord } from '../model.js';
import {
  NotLeaderError,
  StoreConflictError,
  StoreReadError,
  StoreWriteError,
  type CommitOptions,
  type CoordinatorStore,
  type DecisionState,
  type DrainFilter,
  type StoreBatch,
  type StoreFault,
} from './store.js';

export interface EtcdStoreOptions {
  /** Client URLs, e.g. ["https://etcd1:2379", ...]. */
  endpoints: string[];
  /** Every key starts with this, e.g. "/herald/". */
  prefix: string;
  /** PEM contents (already read). */
  tls?: { ca: Buffer; cert?: Buffer; key?: Buffer };
  auth?: { username: string; password: string };
  /** Deadline of each call. */
  timeoutMs?: number;
}

/** Under the prefix: the key the elected replica holds (replicas/leadership.ts). */
export const LEADER_KEY = 'leader';

/** Audit entries per commit the id scheme leaves room for. */
const AUDIT_PER_COMMIT = 1000n;
/** etcd's default limit on the operations of one Txn (`--max-txn-ops`): a larger one is refused. */
const MAX_TXN_OPS = 128;
/** Audit keys read per page while filtering. */
const AUDIT_PAGE = 500;

/** The first key after every key that starts with `prefix`. */
function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]); // the whole key space
}

/**
 * UNAVAILABLE answers that say the request never reached a member able to apply it: safe to
 * send to another member, and "nothing applied" is true.
 */
const NOT_SENT = /No connection established|ECONNREFUSED|etcdserver: no leader|not capable|leader changed/i;

function notSent(error: unknown): boolean {
  return error instanceof GRPCUnavailableError && NOT_SENT.test(error.message);
}

/**
 * Pauses before sending a write again that no member could take (an election after a member was
 * lost or came back: "no leader", "leader changed"). The client's own retries go to the other
 * members at once, which does not outlast an election (~1 s with etcd's defaults); these do,
 * within the call's deadline. Nothing was applied, so sending it again is safe.
 */
export const NOT_SENT_PAUSES_MS = [100, 200, 400, 800, 1600];

function faultOf(error: unknown): StoreFault | null {
  if (error instanceof GRPCDeadlineExceededError) return 'store timed out';
  // etcd's own deadline (e.g. a Txn or linearizable read while the cluster has no quorum) comes
  // back as UNKNOWN "context deadline exceeded": the store did not answer, not a bug of ours.
  if (error instanceof GRPCUnknownError && /deadline exceeded/i.test(error.message)) return 'store timed out';
  if (error instanceof GRPCUnavailableError) {
    if (notSent(error)) return 'store unreachable';
    // "etcdserver: request timed out" comes as UNAVAILABLE but the proposal may have been applied.
    return /timed out/i.test(error.message) ? 'store timed out' : 'store connection lost';
  }
  if (
    error instanceof EtcdPermissionDeniedError ||
    error instanceof GRPCUnauthenticatedError ||
    error instanceof EtcdAuthenticationFailedError ||
    error instanceof EtcdInvalidAuthTokenError
  )
    return 'store permission denied';
  return null;
}

interface StoredAudit extends AuditInput {
  /** Place in its batch. */
  index: number;
}

function requireText(value: unknown, field: string): void {
  if (typeof value !== 'string')
    throw new TypeError(`audit entry ${field}: expected a string, received ${JSON.stringify(value)}`);
}

export class EtcdStore implements CoordinatorStore {
  private readonly client: Etcd3;
  private readonly prefix: Buffer;
  private readonly timeoutMs: number;

  constructor(private readonly options: EtcdStoreOptions) {
    this.prefix = Buffer.from(options.prefix);
    this.timeoutMs = options.timeoutMs ?? 5000;
    const clientOptions: IOptions = {
      hosts: options.endpoints,
      // Retries only of a call that never reached a member (each retry picks another member):
      // a Txn that timed out or lost its connection may have been applied, and sending it again
      // is our decision, not the library's. No circuit breaker refusing calls for seconds after
      // a member failed. Every call has a deadline.
      faultHandling: {
        host: () => noop,
        global: retry(handleWhen(notSent), { maxAttempts: options.endpoints.length }),
      },
      dialTimeout: this.timeoutMs,
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + this.timeoutMs }),
      ...(options.tls
        ? {
            credentials: {
              rootCertificate: options.tls.ca,
              ...(options.tls.cert && options.tls.key
                ? { certChain: options.tls.cert, privateKey: options.tls.key }
                : {}),
            },
          }
        : {}),
      ...(options.auth ? { auth: options.auth } : {}),
    };
    this.client = new Etcd3(clientOptions);
  }

  /**
   * The client and key prefix, for the replicas' leadership, health board and directory
   * (src/coordinator/replicas/), which share this connection.
   */
  coordination(): { client: Etcd3; prefix: string; timeoutMs: number } {
    return { client: this.client, prefix: this.options.prefix, timeoutMs: this.timeoutMs };
  }

  private key(...parts: string[]): Buffer {
    return Buffer.concat([this.prefix, Buffer.from(parts.join(''))]);
  }

  private describe(error: unknown): string {
    return `etcd at ${this.options.endpoints.join(', ')}: ${error instanceof Error ? error.message : String(error)}`;
  }

  /**
   * Runs a read, once more on another member after a failure (reads change nothing, so any
   * failure may be retried); failures the store names become StoreReadError.
   */
  private async read<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      try {
        return await run();
      } catch (error) {
        if (!faultOf(error) || this.options.endpoints.length < 2) throw error;
        return await run();
      }
    } catch (error) {
      const fault = faultOf(error);
      if (!fault) throw error;
      throw new StoreReadError(
        fault === 'store permission denied' ? fault : 'store unreachable',
        `could not read ${what} from ${this.describe(error)}`,
        { cause: error },
      );
    }
  }

  /** Every key-value under `sub` of the prefix, optionally at a revision. */
  private async scan(sub: string, revision?: string): Promise<{ kvs: IKeyValue[]; revision: string }> {
    const start = this.key(sub);
    const response = await this.client.kv.range({
      key: start,
      range_end: prefixEnd(start),
      ...(revision ? { revision } : {}),
    });
    return { kvs: response.kvs, revision: response.header.revision };
  }

  async commit(batch: StoreBatch, options: CommitOptions = {}): Promise<AuditEntry[]> {
    const audit = (batch.audit ?? []).map((entry, index): StoredAudit => {
      requireText(entry.actor, 'actor');
      requireText(entry.action, 'action');
      requireText(entry.target, 'target');
      return { ...entry, index };
    });
    if (BigInt(audit.length) > AUDIT_PER_COMMIT)
      throw new RangeError(
        `expected at most ${AUDIT_PER_COMMIT} audit entries per commit, received ${audit.length}`,
      );
    // etcd refuses a Txn that writes one key twice: the last write of a record wins, as in SQLite.
    const decisions = new Map<string, Buffer>();
    const deletes = new Set<string>();
    for (const drain of batch.drains ?? [])
      decisions.set(`drains/${drain.id}`, Buffer.from(JSON.stringify(drain)));
    for (const window of batch.windows ?? [])
      decisions.set(`windows/${window.id}`, Buffer.from(JSON.stringify(window)));
    for (const id of batch.deletedWindows ?? []) {
      decisions.delete(`windows/${id}`);
      deletes.add(`windows/${id}`);
    }
    const changesDecisions = Boolean(
      batch.drains?.length || batch.windows?.length || batch.deletedWindows?.length,
    );
    if (changesDecisions) decisions.set('decision', Buffer.from(randomBytes(8).toString('hex')));
    const desired = new Map<string, Buffer>();
    for (const { node, desired: state } of batch.desired ?? [])
      desired.set(`desired/${node}`, Buffer.from(JSON.stringify(state)));

    type Op = IRequestOp & { audit?: StoredAudit };
    const put = (key: string, value: Buffer): Op => ({ request_put: { key: this.key(key), value } });
    // The decision itself (drains, windows) goes first and whole into the first Txn; the audit
    // entries and the desired state fill it up to etcd's limit on operations per Txn (128 by
    // default: the first pass after a start publishes every node's desired state) and follow in
    // further Txns made under the same fence, once the decision is stored.
    const ops: Op[] = [
      ...[...decisions].map(([key, value]) => put(key, value)),
      ...[...deletes].map((key) => ({ request_delete_range: { key: this.key(key) } })),
      ...audit.map((entry) => ({
        ...put(`audit/${randomBytes(12).toString('hex')}`, Buffer.from(JSON.stringify(entry))),
        audit: entry,
      })),
      ...[...desired].map(([key, value]) => put(key, value)),
    ];
    const first = Math.max(decisions.size + deletes.size, MAX_TXN_OPS);
    const entries: AuditEntry[] = [];
    for (let at = 0, chunk = 0; at < ops.length || chunk === 0; chunk++) {
      const size = chunk === 0 ? first : MAX_TXN_OPS;
      const part = ops.slice(at, at + size);
      at += size;
      const revision = await this.txn(
        part.map(({ audit: _audit, ...op }) => op),
        chunk === 0 ? options : { ...(options.fencedBy ? { fencedBy: options.fencedBy } : {}) },
      );
      for (const op of part)
        if (op.audit) {
          const { index, ...entry } = op.audit;
          entries.push(this.auditEntry(entry, revision, index));
        }
    }
    return entries;
  }

  /** One Txn: `success` applied if the decision is unchanged since / the fence holds; its revision. */
  private async txn(success: IRequestOp[], options: CommitOptions): Promise<bigint> {
    const since = options.ifUnchangedSince;
    const fence = options.fencedBy;
    const started = performance.now();
    let response;
    for (let attempt = 0; ; attempt++)
      try {
        response = await this.sendTxn(success, since, fence);
        break;
      } catch (error) {
        const pause = NOT_SENT_PAUSES_MS[attempt];
        if (notSent(error) && pause !== undefined && performance.now() - started + pause < this.timeoutMs) {
          await delay(pause);
          continue;
        }
        const fault = faultOf(error);
        if (!fault) throw error;
        throw new StoreWriteError(fault, `could not write to ${this.describe(error)}`, { cause: error });
      }
    if (!response.succeeded) {
      if (fence !== undefined) {
        const leader = response.responses[0]?.response_range?.kvs[0];
        if (!leader || leader.create_revision !== fence.revision)
          throw new NotLeaderError(fence, leader ? leader.create_revision : null);
      }
      throw new StoreConflictError(since ?? '0');
    }
    return BigInt(response.header.revision);
  }

  private sendTxn(success: IRequestOp[], since: string | undefined, fence: CommitOptions['fencedBy']) {
    return this.client.kv.txn({
      compare: [
        ...(since === undefined
          ? []
          : [
              {
                key: this.key('decision'),
                target: 'Mod' as const,
                result: 'Less' as const,
                mod_revision: String(BigInt(since) + 1n),
              },
            ]),
        // The leadership this write is made under still holds: the leader key is the one
        // created at the fence's revision (a new leader's key has a newer create revision).
        ...(fence === undefined
          ? []
          : [
              {
                key: this.key(LEADER_KEY),
                target: 'Create' as const,
                result: 'Equal' as const,
                create_revision: fence.revision,
              },
            ]),
      ],
      success,
      // On failure, the leader key as it is now: tells a lost leadership from a conflict.
      failure: fence === undefined ? [] : [{ request_range: { key: this.key(LEADER_KEY) } }],
    });
  }

  private auditEntry(input: AuditInput, revision: bigint, index: number): AuditEntry {
    return {
      id: Number(revision * AUDIT_PER_COMMIT + BigInt(index)),
      at: input.at,
      actor: input.actor,
      action: input.action,
      site: input.site,
      target: input.target,
      drainId: input.drainId ?? null,
      windowId: input.windowId ?? null,
      reason: input.reason ?? null,
      details: input.details ?? {},
    };
  }

  async readDecisionState(): Promise<DecisionState> {
    return this.read('the drains and windows', async () => {
      const drains = await this.scan('drains/');
      // The windows at exactly the drains' revision: one consistent view.
      const windows = await this.scan('windows/', drains.revision);
      return {
        revision: drains.revision,
        drains: sortDrains(
          drains.kvs.map((kv) => parse<DrainRecord>(kv)).filter((d) => d.status === 'active'),
        ),
        windows: windows.kvs.map((kv) => parse<WindowRecord>(kv)).sort((a, b) => a.createdAt - b.createdAt),
      };
    });
  }

  async getDrain(id: string): Promise<DrainRecord | null> {
    return this.read(`drain ${id}`, async () => {
      const response = await this.client.kv.range({ key: this.key('drains/', id) });
      return response.kvs[0] ? parse<DrainRecord>(response.kvs[0]) : null;
    });
  }

  async listDrains(filter: DrainFilter): Promise<DrainRecord[]> {
    return this.read('the drains', async () => {
      const drains = sortDrains(
        (await this.scan('drains/')).kvs
          .map((kv) => parse<DrainRecord>(kv))
          .filter(
            (d) =>
              (filter.status === 'all' || d.status === filter.status) &&
              (!filter.site || d.target.site === filter.site),
          ),
      );
      return filter.limit ? drains.slice(0, Math.floor(filter.limit)) : drains;
    });
  }

  async getWindow(id: string): Promise<WindowRecord | null> {
    return this.read(`window ${id}`, async () => {
      const response = await this.client.kv.range({ key: this.key('windows/', id) });
      return response.kvs[0] ? parse<WindowRecord>(response.kvs[0]) : null;
    });
  }

  async listWindows(): Promise<WindowRecord[]> {
    return this.read('the windows', async () =>
      (await this.scan('windows/')).kvs
        .map((kv) => parse<WindowRecord>(kv))
        .sort((a, b) => a.createdAt - b.createdAt),
    );
  }

  /**
   * Newest first. etcd cannot filter values, so this pages through the audit keys newest first
   * (by create revision) and filters here: cheap for the recent entries operators look at,
   * linear in the log's size for a filter that matches nothing.
   */
  async queryAudit(query: AuditQuery): Promise<AuditEntry[]> {
    return this.read('the audit log', async () => {
      const start = this.key('audit/');
      const range = { key: start, range_end: prefixEnd(start) };
      const found: AuditEntry[] = [];
      let max: bigint | null = null;
      for (;;) {
        const page = await this.client.kv.range({
          ...range,
          sort_order: 'Descend',
          sort_target: 'Create',
          limit: AUDIT_PAGE,
          ...(max === null ? {} : { max_create_revision: String(max) }),
        });
        if (page.kvs.length === 0) return found;
        const last = BigInt(page.kvs[page.kvs.length - 1]!.create_revision);
        let kvs = page.kvs;
        // The page may end inside the commit at `last` (its entries share that revision): read it whole.
        if (page.more)
          kvs = [
            ...page.kvs.filter((kv) => BigInt(kv.create_revision) > last),
            ...(
              await this.client.kv.range({
                ...range,
                min_create_revision: String(last),
                max_create_revision: String(last),
              })
            ).kvs,
          ];
        const entries = kvs
          .map((kv) => {
            const { index, ...input } = parse<StoredAudit>(kv);
            return this.auditEntry(input, BigInt(kv.create_revision), index);
          })
          .sort((x, y) => y.id - x.id);
        for (const entry of entries) {
          if (!matches(entry, query)) continue;
          found.push(entry);
          if (found.length >= query.limit) return found;
        }
        if (!page.more) return found;
        max = last - 1n;
      }
    });
  }

  async loadDesired(): Promise<Map<string, AgentDesired>> {
    return this.read('the desired state', async () => {
      const start = this.key('desired/');
      const { kvs } = await this.scan('desired/');
      return new Map(
        kvs.map((kv) => [kv.key.subarray(start.length).toString(), parse<AgentDesired>(kv)] as const),
      );
    });
  }

  async close(): Promise<void> {
    this.client.close();
  }
}

function parse<T>(kv: IKeyValue): T {
  return JSON.parse(kv.value.toString('utf8')) as T;
}

/** Newest first, as the SQLite store orders them (created_at DESC, id DESC). */
function sortDrains(drains: DrainRecord[]): DrainRecord[] {
  return drains.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}

function matches(entry: AuditEntry, query: AuditQuery): boolean {
  return (
    (query.drain === undefined || entry.drainId === query.drain) &&
    (query.window === undefined || entry.windowId === query.window) &&
    (query.actor === undefined || entry.actor === query.actor) &&
    (query.action === undefined || entry.action === query.action) &&
    (query.site === undefined || entry.site === query.site) &&
    (query.since === undefined || entry.at >= query.since) &&
    (query.until === undefined || entry.at <= query.until)
  );
}
