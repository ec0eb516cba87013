/**
 * The heard keys on etcd (heard-times.ts says what they hold and why): this replica writes its
 * own, `<prefix>heard/<replica>`, bound to its lease, once per period and only when a time
 * changed — one put per replica per period whatever the number of agents, never a write per
 * heartbeat — and mirrors every other replica's to answer "when was this node last heard".
 * A dead replica's key expires with its lease, like its board entries.
 */
import type { Etcd3 } from 'etcd3';
import type { Logger } from '../../util/log.js';
import { coerceError } from '../../util/errors.js';
import { decodeHeard, encodeHeard, heardChanged, type HeardTimes } from './heard-times.js';
import { PrefixMirror } from './prefix-mirror.js';
import type { ReplicaLease } from './replica-lease.js';

/**
 * A value larger than this is not written (etcd refuses requests over 1.5 MiB by default): about
 * 50,000 nodes on one replica. Readers then keep the older times the board entries carry.
 */
const MAX_VALUE_BYTES = 1024 * 1024;

export interface HeardBoardOptions {
  client: Etcd3;
  prefix: string;
  lease: ReplicaLease;
  replica: string;
  logger: Logger;
  periodMs: number;
  /** The last report time of each node served here now (heard-times.ts `servedHeardTimes`). */
  times: () => HeardTimes;
}

export class EtcdHeardBoard {
  private readonly mirror: PrefixMirror;
  private readonly key: string;
  /** What was last written under the current lease (undefined: write at the next period). */
  private written: HeardTimes | undefined;
  private writing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | undefined;
  private warnedTooLarge = false;
  /** Each other replica's parsed times, by the mod revision of its key. */
  private readonly parsed = new Map<string, { revision: string; times: HeardTimes | undefined }>();
  /** Puts made to etcd (tests and logs). */
  writes = 0;

  constructor(private readonly o: HeardBoardOptions) {
    const base = `${o.prefix}heard/`;
    this.key = base + o.replica;
    this.mirror = new PrefixMirror(o.client, base, o.logger, 'the shared report times');
    // A new lease: the old key expired with the old one, write again at the next period.
    o.lease.on('granted', () => {
      this.written = undefined;
    });
  }

  async start(): Promise<void> {
    await this.mirror.start();
    this.timer = setInterval(() => void this.publish(), this.o.periodMs);
    this.timer.unref();
  }

  /** Writes this replica's times when they changed since the last write (one at a time). */
  publish(): Promise<void> {
    if (this.writing) return this.writing;
    this.writing = this.write()
      .catch((error: unknown) => {
        this.o.logger.warn({ err: coerceError(error) }, 'could not write the report times to etcd');
      })
      .finally(() => {
        this.writing = null;
      });
    return this.writing;
  }

  private async write(): Promise<void> {
    const leaseId = this.o.lease.id;
    if (!leaseId) return;
    const times = this.o.times();
    if (!heardChanged(this.written, times)) return;
    const value = encodeHeard(times);
    if (Buffer.byteLength(value) > MAX_VALUE_BYTES) {
      if (!this.warnedTooLarge)
        this.o.logger.warn(
          { nodes: times.size, bytes: Buffer.byteLength(value) },
          `the report times of ${times.size} nodes exceed ${MAX_VALUE_BYTES} bytes: not shared; other replicas show the times of the last health changes`,
        );
      this.warnedTooLarge = true;
      return;
    }
    this.writes++;
    await this.o.client.put(this.key).value(value).lease(leaseId).exec();
    // Only once etcd took it: a failed write is tried again at the next period.
    this.written = new Map(times);
  }

  /** The times another replica shares (undefined: none, this replica, or not readable). */
  timesOf(replica: string): HeardTimes | undefined {
    if (replica === this.o.replica) return undefined;
    const entry = this.mirror.entries.get(replica);
    if (!entry) {
      this.parsed.delete(replica);
      return undefined;
    }
    let cached = this.parsed.get(replica);
    if (cached?.revision !== entry.modRevision) {
      cached = { revision: entry.modRevision, times: decodeHeard(entry.value.toString('utf8')) };
      this.parsed.set(replica, cached);
    }
    return cached.times;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.writing;
    await this.mirror.stop();
  }
}
