/**
 * The grace before "stale": after this replica starts, and again whenever it becomes the leader,
 * no agent is judged stale for `graceMs` (agents are still reconnecting and reporting to the
 * replica now deciding). Measured on the monotonic clock.
 */
export class StaleGrace {
  private until: number;

  constructor(
    private readonly graceMs: number,
    private readonly monotonic: () => number = () => performance.now(),
  ) {
    this.until = monotonic() + graceMs;
  }

  /** Starts the grace again (a leadership change). */
  restart(): void {
    this.until = Math.max(this.until, this.monotonic() + this.graceMs);
  }

  get active(): boolean {
    return this.monotonic() < this.until;
  }

  /** Milliseconds of grace left (0 when over). */
  get remainingMs(): number {
    return Math.max(0, this.until - this.monotonic());
  }
}
