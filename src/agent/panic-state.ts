/**
 * The coordinator's panic (docs/panic-mode.md) as this agent holds it: the directive last pushed,
 * when it arrived (both clocks), and whether it is still in force given the link's last contact.
 * Fail-static like drains, but bounded: it lapses `holdMs` after the last contact, measured on the
 * monotonic clock (panic-hold.ts). Logs its own transitions.
 */
import type { PanicDirective } from '../wire/agent-status.js';
import type { Logger } from '../util/log.js';
import { panicHold, type Instant, type PanicHold } from './panic-hold.js';

/** What the panic needs to know of the coordinator link. */
export interface PanicContact {
  connected(): boolean;
  lastContactAt(): number | null;
  sinceContactMs(): number | null;
}

export interface PanicClock {
  /** Monotonic ms. */
  now(): number;
  /** Unix ms. */
  wallNow(): number;
}

export class PanicState {
  private panic: { directive: PanicDirective; receivedAt: Instant; expiredLogged: boolean } | null = null;

  constructor(
    private readonly clock: PanicClock,
    private readonly logger: Logger,
    private readonly contact: () => PanicContact | undefined,
  ) {}

  get directive(): PanicDirective | null {
    return this.panic?.directive ?? null;
  }

  /** Takes the coordinator's panic from a desired state it accepted (absent or inactive = cleared). */
  apply(directive: PanicDirective | undefined): void {
    const next = directive?.active ? directive : undefined;
    if (!next) {
      if (this.panic)
        this.logger.warn({ since: this.panic.directive.since }, 'panic mode cleared by the coordinator');
      this.panic = null;
      return;
    }
    if (!this.panic || this.panic.directive.since !== next.since)
      this.logger.warn(
        { since: next.since, holdMs: next.holdMs },
        `PANIC MODE from the coordinator: ${next.reason}`,
      );
    this.panic = {
      directive: next,
      receivedAt: { mono: this.clock.now(), wall: this.clock.wallNow() },
      expiredLogged: false,
    };
  }

  /** Whether the panic still holds, and until when (null when there is no panic). */
  hold(): PanicHold | null {
    if (!this.panic) return null;
    const link = this.contact();
    const sinceContact = link?.sinceContactMs() ?? null;
    const now = this.clock.now();
    return panicHold({
      holdMs: this.panic.directive.holdMs,
      receivedAt: this.panic.receivedAt,
      lastContact:
        sinceContact === null ? null : { mono: now - sinceContact, wall: link?.lastContactAt() ?? 0 },
      connected: link?.connected() ?? false,
      now,
    });
  }

  inForce(): boolean {
    const hold = this.hold();
    if (!this.panic || !hold) return false;
    if (hold.inForce) return true;
    if (!this.panic.expiredLogged) {
      this.panic.expiredLogged = true;
      this.logger.warn(
        { since: this.panic.directive.since, holdMs: this.panic.directive.holdMs },
        'panic mode lapsed: no word from the coordinator; failing checks withdraw again',
      );
    }
    return false;
  }
}
