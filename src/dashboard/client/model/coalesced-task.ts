/**
 * Runs an async task at most once at a time and at most once per `gapMs`: requests that arrive
 * while it runs are folded into one more run afterwards. A burst of 500 events costs two
 * fetches, and the last state is always fetched after the last event.
 */
export class CoalescedTask {
  private running = false;
  private again = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private lastStart = 0;

  constructor(
    private readonly task: () => Promise<void>,
    private readonly gapMs: number,
  ) {}

  request(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) return;
    const wait = Math.max(0, this.lastStart + this.gapMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.run();
    }, wait);
  }

  /** Runs now (or right after the current run). */
  async now(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.running) {
      this.again = true;
      return;
    }
    await this.run();
  }

  private async run(): Promise<void> {
    this.running = true;
    this.again = false;
    this.lastStart = Date.now();
    try {
      await this.task();
    } finally {
      this.running = false;
      if (this.again) this.request();
    }
  }
}
