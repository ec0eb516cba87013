/**
 * Whether this replica's store answers, as /status, the log and the dashboard show it. Every
 * read and commit reports its outcome here, and with etcd a periodic probe reads the decision
 * state (store-probe in coordinator.ts), so a replica that lost etcd says so within two probe
 * intervals even when nobody asks for a change. Changes are refused with a 503 naming the fault
 * by the store calls themselves; this only keeps the record of it.
 */
import type { Logger } from '../util/log.js';
import type { StoreConfig } from './config-schema.js';
import type { StoreFault, StoreWriteError } from './store/store.js';

export interface StoreHealthView {
  engine: StoreConfig['engine'];
  /** Whether the last read or commit got an answer (a refused condition is an answer). */
  reachable: boolean;
  /** Since when (unix ms) it has been so. */
  since: number;
  /** What went wrong while not reachable ("store unreachable", "disk full", …). */
  fault: StoreFault | null;
  /** The store's own words about the fault, for the log and the page. */
  detail: string | null;
}

export class StoreHealth {
  private state: StoreHealthView;

  constructor(
    engine: StoreConfig['engine'],
    private readonly logger: Logger,
    private readonly clock: () => number,
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
      this.state = { ...this.state, reachable: true, since: now, fault: null, detail: null };
      return;
    }
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
  }

  view(): StoreHealthView {
    return { ...this.state };
  }
}
