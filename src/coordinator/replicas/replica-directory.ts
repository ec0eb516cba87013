/**
 * The live replicas: each writes `<prefix>replicas/<id>` (its id, the URL it serves, when it
 * started, its version) bound to its lease, and mirrors the whole `replicas/` prefix. A replica
 * that dies drops out when its lease expires.
 */
import type { Etcd3 } from 'etcd3';
import type { Logger } from '../../util/log.js';
import { coerceError } from '../../util/errors.js';
import { PrefixMirror } from './prefix-mirror.js';
import type { ReplicaLease } from './replica-lease.js';

export interface ReplicaRecord {
  id: string;
  /** The URL it serves the API on (as it advertises it), or null. */
  url: string | null;
  /** Unix milliseconds. */
  startedAt: number;
  version: string;
}

export interface ReplicaDirectory {
  /** Every live replica, sorted by id. */
  replicas(): ReplicaRecord[];
  stop(): Promise<void>;
}

export class SoloDirectory implements ReplicaDirectory {
  constructor(private readonly self: ReplicaRecord) {}
  replicas(): ReplicaRecord[] {
    return [this.self];
  }
  async stop(): Promise<void> {}
}

export class EtcdReplicaDirectory implements ReplicaDirectory {
  private readonly mirror: PrefixMirror;
  private readonly key: Buffer;

  constructor(
    private readonly client: Etcd3,
    prefix: string,
    private readonly lease: ReplicaLease,
    private readonly self: ReplicaRecord,
    private readonly logger: Logger,
  ) {
    this.key = Buffer.from(`${prefix}replicas/${self.id}`);
    this.mirror = new PrefixMirror(client, `${prefix}replicas/`, logger, 'the replica directory');
    lease.on('granted', () => void this.announce());
  }

  async start(): Promise<void> {
    await this.announce();
    await this.mirror.start();
  }

  private async announce(): Promise<void> {
    const leaseId = this.lease.id;
    if (!leaseId) return;
    try {
      await this.client.kv.put({
        key: this.key,
        value: Buffer.from(JSON.stringify(this.self)),
        lease: leaseId,
      });
    } catch (error) {
      this.logger.warn(
        { err: coerceError(error) },
        'could not write this replica to the directory; retried with the next lease',
      );
    }
  }

  replicas(): ReplicaRecord[] {
    const list: ReplicaRecord[] = [];
    for (const entry of this.mirror.entries.values()) {
      try {
        list.push(JSON.parse(entry.value.toString('utf8')) as ReplicaRecord);
      } catch {
        // unreadable entry: left out
      }
    }
    if (!list.some((r) => r.id === this.self.id)) list.push(this.self);
    return list.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async stop(): Promise<void> {
    await this.mirror.stop();
  }
}
