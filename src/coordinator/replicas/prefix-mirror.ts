/**
 * A local copy of every key under one etcd prefix, kept current by a watch: read everything at
 * revision R, then watch from R+1. npm etcd3 does not resume a watch that etcd cancelled (a
 * compacted revision cancels it with an error event): then this reads everything again and
 * watches from the new revision. `change` fires after every update of the copy.
 */
import { EventEmitter } from 'node:events';
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import type { Logger } from '../../util/log.js';
import { coerceError } from '../../util/errors.js';

export interface MirroredValue {
  value: Buffer;
  /** The lease it is bound to ('0' for none). */
  lease: string;
  modRevision: string;
}

export class PrefixMirror extends EventEmitter<{ change: [] }> {
  /** Key (after the prefix) → value. */
  readonly entries = new Map<string, MirroredValue>();
  private watcher: Watcher | undefined;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Times the copy was read whole again after a watch broke (for tests and logs). */
  rereads = 0;

  constructor(
    private readonly client: Etcd3,
    private readonly prefix: string,
    private readonly logger: Logger,
    private readonly what: string,
  ) {
    super();
  }

  /** Resolves after the first full read and once the watch is in place. */
  async start(): Promise<void> {
    await this.sync();
  }

  private async sync(): Promise<void> {
    if (this.stopped) return;
    const all = await this.client.getAll().prefix(this.prefix).exec();
    const next = new Map<string, MirroredValue>();
    for (const kv of all.kvs) next.set(this.name(kv), toValue(kv));
    this.entries.clear();
    for (const [key, value] of next) this.entries.set(key, value);
    this.emit('change');
    const watcher = await this.client
      .watch()
      .prefix(this.prefix)
      .startRevision(String(BigInt(all.header.revision) + 1n))
      .create();
    if (this.stopped) {
      await watcher.cancel().catch(() => undefined);
      return;
    }
    this.watcher = watcher;
    watcher.on('put', (kv) => {
      this.entries.set(this.name(kv), toValue(kv));
      this.emit('change');
    });
    watcher.on('delete', (kv) => {
      this.entries.delete(this.name(kv));
      this.emit('change');
    });
    watcher.on('error', (error) => {
      if (this.watcher !== watcher) return;
      this.watcher = undefined;
      void watcher.cancel().catch(() => undefined);
      this.logger.warn(
        { err: coerceError(error), prefix: this.prefix },
        `the watch of ${this.what} ended (${coerceError(error).message}); reading it again`,
      );
      this.resync();
    });
  }

  private resync(): void {
    if (this.stopped) return;
    this.rereads++;
    this.sync().catch((error: unknown) => {
      this.logger.debug({ err: coerceError(error) }, `could not read ${this.what}; retrying`);
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.resync(), 1000);
    });
  }

  private name(kv: IKeyValue): string {
    return kv.key.toString('utf8').slice(this.prefix.length);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    await this.watcher?.cancel().catch(() => undefined);
  }
}

function toValue(kv: IKeyValue): MirroredValue {
  return { value: kv.value, lease: kv.lease, modRevision: kv.mod_revision };
}
