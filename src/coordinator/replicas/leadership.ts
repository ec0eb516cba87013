/**
 * Which replica runs the singleton work (maintenance windows, router verification, panic
 * evaluation, advancing drain steps). etcd: one leader per key prefix, the replica that created
 * `<prefix>leader` (create-if-absent Txn) bound to its lease; the others watch the key and
 * campaign again when it goes. Its fence (the key's create revision + the lease) goes into every
 * singleton write, and etcd refuses the write once another leadership began (store.ts
 * NotLeaderError). The leader steps down on its own, and says so in its log, when its lease had
 * no keepalive answered for TTL/2, or when a fenced write was refused.
 * SQLite: one coordinator, always the leader; its fence is the no-op SOLO_FENCE.
 */
import { EventEmitter } from 'node:events';
import type { Etcd3, Watcher } from 'etcd3';
import type { Logger } from '../../util/log.js';
import { coerceError } from '../../util/errors.js';
import { LEADER_KEY } from '../store/etcd-store.js';
import { SOLO_FENCE, type Fence, type NotLeaderError } from '../store/store.js';
import type { ReplicaLease } from './replica-lease.js';

/** Who leads, as the leader key says. */
export interface LeaderInfo {
  id: string;
  /** The URL that replica serves, when it knows it. */
  url: string | null;
  /** When it began leading (its wall clock). */
  since: number;
}

export interface LeadershipEvents {
  /** This replica began or stopped leading. */
  change: [leading: boolean];
}

export interface Leadership extends EventEmitter<LeadershipEvents> {
  readonly replicaId: string;
  /** Whether this replica may do singleton work right now (judged at the call). */
  isLeader(): boolean;
  /** The fence for a singleton write; undefined when not leading. */
  fence(): Fence | undefined;
  /** The current leader as last seen (this replica or another); null when none is known. */
  leader(): LeaderInfo | null;
  /** A fenced write was refused: stop leading now. */
  refused(error: NotLeaderError): void;
  stop(): Promise<void>;
}

export interface ReplicaIdentity {
  id: string;
  url: string | null;
}

/** The embedded store's only coordinator: always the leader. */
export class SoloLeadership extends EventEmitter<LeadershipEvents> implements Leadership {
  private readonly since = Date.now();
  constructor(private readonly identity: ReplicaIdentity) {
    super();
  }
  get replicaId(): string {
    return this.identity.id;
  }
  isLeader(): boolean {
    return true;
  }
  fence(): Fence {
    return { ...SOLO_FENCE, replica: this.identity.id };
  }
  leader(): LeaderInfo {
    return { id: this.identity.id, url: this.identity.url, since: this.since };
  }
  refused(): void {}
  async stop(): Promise<void> {}
}

export class EtcdLeadership extends EventEmitter<LeadershipEvents> implements Leadership {
  private readonly key: Buffer;
  private current: Fence | undefined;
  private known: LeaderInfo | null = null;
  private watcher: Watcher | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private campaigning = false;

  constructor(
    private readonly client: Etcd3,
    prefix: string,
    private readonly lease: ReplicaLease,
    private readonly identity: ReplicaIdentity,
    private readonly logger: Logger,
  ) {
    super();
    this.key = Buffer.from(prefix + LEADER_KEY);
    lease.on('granted', () => void this.campaign());
    lease.on('recovered', () => void this.campaign());
    lease.on('suspect', (silentMs) =>
      this.stepDown(
        `no lease keepalive answered for ${Math.round(silentMs)} ms (half the ${lease.ttlSeconds} s TTL)`,
      ),
    );
  }

  get replicaId(): string {
    return this.identity.id;
  }

  /** Campaigns once, watches the leader key, and campaigns again whenever it may be free. */
  async start(): Promise<void> {
    await this.campaign();
    await this.watch();
    // A fallback for a missed watch event: campaign every TTL/3 while not leading.
    this.pollTimer = setInterval(
      () => {
        if (!this.current) void this.campaign();
      },
      Math.max(500, (this.lease.ttlSeconds * 1000) / 3),
    );
  }

  isLeader(): boolean {
    if (!this.current) return false;
    if (!this.lease.fresh) {
      this.stepDown(
        `no lease keepalive answered for ${Math.round(this.lease.silentMs)} ms (half the ${this.lease.ttlSeconds} s TTL)`,
      );
      return false;
    }
    return true;
  }

  fence(): Fence | undefined {
    return this.isLeader() ? this.current : undefined;
  }

  leader(): LeaderInfo | null {
    return this.known;
  }

  refused(error: NotLeaderError): void {
    this.stepDown(`a fenced write was refused: ${error.message}`);
  }

  /** Create-if-absent; or, when the key is still ours (same lease), take the leadership back. */
  private async campaign(): Promise<void> {
    if (this.stopped || this.campaigning || this.current || !this.lease.fresh) return;
    const leaseId = this.lease.id;
    if (!leaseId) return;
    this.campaigning = true;
    try {
      const since = Date.now();
      const response = await this.client.kv.txn({
        compare: [{ key: this.key, target: 'Create', result: 'Equal', create_revision: '0' }],
        success: [
          {
            request_put: {
              key: this.key,
              value: Buffer.from(JSON.stringify({ id: this.identity.id, url: this.identity.url, since })),
              lease: leaseId,
            },
          },
        ],
        failure: [{ request_range: { key: this.key } }],
      });
      if (response.succeeded) {
        this.become({ replica: this.identity.id, revision: response.header.revision, lease: leaseId }, since);
        return;
      }
      const kv = response.responses[0]?.response_range?.kvs[0];
      if (!kv) return; // deleted in between: the watch or the poll campaigns again
      const info = parseLeader(kv.value);
      this.known = info;
      if (kv.lease === leaseId && this.lease.fresh)
        this.become({ replica: this.identity.id, revision: kv.create_revision, lease: leaseId }, info.since);
    } catch (error) {
      this.logger.debug({ err: coerceError(error) }, 'leader campaign failed; retried');
    } finally {
      this.campaigning = false;
    }
  }

  private become(fence: Fence, since: number): void {
    if (this.stopped) return;
    this.current = fence;
    this.known = { id: this.identity.id, url: this.identity.url, since };
    this.logger.info(
      { replica: fence.replica, fenceRevision: fence.revision, lease: fence.lease },
      `this replica (${fence.replica}) is now the leader: it runs windows, drain steps, panic and router verification`,
    );
    this.emit('change', true);
  }

  private stepDown(reason: string): void {
    const fence = this.current;
    if (!fence) return;
    this.current = undefined;
    if (this.known?.id === this.identity.id) this.known = null;
    this.logger.warn(
      { replica: fence.replica, fenceRevision: fence.revision, reason },
      `stepping down as leader: ${reason}`,
    );
    this.emit('change', false);
    // Free the key at once if it is still this leadership's (nothing happens when it is not).
    void this.client.kv
      .txn({
        compare: [{ key: this.key, target: 'Create', result: 'Equal', create_revision: fence.revision }],
        success: [{ request_delete_range: { key: this.key } }],
        failure: [],
      })
      .catch(() => undefined);
  }

  private async watch(): Promise<void> {
    if (this.stopped) return;
    try {
      const watcher = await this.client.watch().key(this.key).create();
      this.watcher = watcher;
      watcher.on('put', (kv) => {
        this.known = parseLeader(kv.value);
        if (this.current && kv.create_revision !== this.current.revision)
          this.stepDown(`the leader key now belongs to replica ${this.known.id}`);
      });
      watcher.on('delete', () => {
        this.known = null;
        if (this.current) this.stepDown('the leader key was deleted');
        void this.campaign();
      });
      watcher.on('error', (error) => {
        // A cancelled watch (e.g. compacted) does not resume by itself: campaign (which reads the
        // key) and watch again.
        this.logger.debug({ err: coerceError(error) }, 'leader key watch ended; watching again');
        void watcher.cancel().catch(() => undefined);
        if (this.watcher === watcher) this.watcher = undefined;
        setTimeout(() => void this.campaign().then(() => this.watch()), 500);
      });
    } catch (error) {
      this.logger.debug({ err: coerceError(error) }, 'could not watch the leader key; retrying');
      setTimeout(() => void this.watch(), 1000);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.pollTimer);
    const fence = this.current;
    this.current = undefined;
    await this.watcher?.cancel().catch(() => undefined);
    if (fence)
      await this.client.kv
        .txn({
          compare: [{ key: this.key, target: 'Create', result: 'Equal', create_revision: fence.revision }],
          success: [{ request_delete_range: { key: this.key } }],
          failure: [],
        })
        .catch(() => undefined);
  }
}

function parseLeader(value: Buffer): LeaderInfo {
  try {
    const parsed = JSON.parse(value.toString('utf8')) as Partial<LeaderInfo>;
    return {
      id: String(parsed.id ?? 'unknown'),
      url: typeof parsed.url === 'string' ? parsed.url : null,
      since: typeof parsed.since === 'number' ? parsed.since : 0,
    };
  } catch {
    return { id: 'unknown', url: null, since: 0 };
  }
}
