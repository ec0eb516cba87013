/**
 * Whether this replica's store answers, as /status, the log and the dashboard show it. Every
 * read and commit reports its outcome here, and with etcd a periodic probe reads the decision
 * state (store-probe in coordinator.ts), so a replica that lost etcd says so within two probe
 * intervals even when nobody asks for a change. Changes are refused with a 503 naming the fault
 * by the store calls themselves and, with etcd, at once while the probe knows the store fails
 * (tracked-drains.ts): a replica without quorum answers in milliseconds, not after the etcd
 * client's deadline, and a request an operator gave up on is not applied when quorum returns.
 */
import type { Logger } from '../util/log.js';
import type { StoreStatus } from '../wire/coordinator-api.js';
import type { StoreConfig } from './config-schema.js';
import type { EventBus } from './events.js';
import type { StoreWriteError } from './store/store.js';

export class StoreHealth {
  private state: StoreStatus;
  /** The failure that made the store unreachable (null while it answers). */
  private lastError: StoreWriteError | null = null;

  constructor(
    engine: StoreConfig['engine'],
    private readonly logger: Logger,
    private readonly clock: () => number,
    private readonly events: EventBus,
  ) {
    this.state = { engine, reachable: true, since: clock(), fault: null, detail: null };
  }

  /** The outcome of a store call: null when it answered, else the failure. */
  outcome(error: StoreWriteError | null): void {
    const now = this.clock();
    if (error === null) {
      if (this.state.reachable) return;
      this.logger.info(
        { store: this.state.engine, downForMs: now - this.state.since },
        `the ${this.state.engine} store answers again; changes are accepted`,
      );
      this.lastError = null;
      this.state = { ...this.state, reachable: true, since: now, fault: null, detail: null };
      this.events.emit('store.health', { store: this.view() }, now);
      return;
    }
    this.lastError = error;
    if (!this.state.reachable && this.state.fault === error.fault) return;
    this.logger.error(
      { store: this.state.engine, fault: error.fault, err: error },
      `the ${this.state.engine} store fails (${error.fault}): changes are refused with 503 until it answers again`,
    );
    this.state = {
      ...this.state,
      reachable: false,
      since: this.state.reachable ? now : this.state.since,
      fault: error.fault,
      detail: error.message,
    };
    this.events.emit('store.health', { store: this.view() }, now);
  }

  /**
   * While the store has failed for at least `forMs`: its failure (a change is refused with it at
   * once). A single slow answer on a loaded machine does not count; a store down for a while does.
   */
  failure(forMs: number): StoreWriteError | null {
    if (!this.lastError || this.clock() - this.state.since < forMs) return null;
    return this.lastError;
  }

  view(): StoreStatus {
    return { ...this.state };
  }
}
