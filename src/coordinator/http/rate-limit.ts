/**
 * Token buckets keyed by a string (a token's name, a client address): `burst` requests at once,
 * refilled at `perMinute`. Memory is bounded: at most `maxKeys` buckets, full ones dropped first
 * (a full bucket is the same as no bucket), then the least recently used. Pure apart from the
 * injected clock, which measures only durations: monotonic by default, so a wall-clock step can
 * neither lock a client out nor refill its budget.
 */
export interface BucketSpec {
  /** Requests allowed at once; 0 = no limit. */
  burst: number;
  perMinute: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;

  constructor(
    readonly spec: BucketSpec,
    private readonly clock: () => number = () => performance.now(),
    private readonly maxKeys = 10_000,
  ) {
    this.perMs = spec.perMinute / 60_000;
  }

  get enabled(): boolean {
    return this.spec.burst > 0;
  }

  private current(key: string, now: number): Bucket {
    const bucket = this.buckets.get(key);
    if (!bucket) return { tokens: this.spec.burst, at: now };
    const tokens = Math.min(this.spec.burst, bucket.tokens + (now - bucket.at) * this.perMs);
    return { tokens, at: now };
  }

  private waitFor(tokens: number): number {
    return tokens >= 1 ? 0 : Math.ceil((1 - tokens) / this.perMs);
  }

  /** Milliseconds until `key` may make a request (0: now), without using one. */
  wait(key: string): number {
    if (!this.enabled) return 0;
    return this.waitFor(this.current(key, this.clock()).tokens);
  }

  /**
   * Uses one request of `key`'s bucket. Returns 0 when allowed, else the milliseconds until one
   * is available (nothing is used then).
   */
  take(key: string): number {
    if (!this.enabled) return 0;
    const now = this.clock();
    const bucket = this.current(key, now);
    const wait = this.waitFor(bucket.tokens);
    if (wait === 0) bucket.tokens -= 1;
    this.buckets.delete(key); // re-insert: the map's order is least recently used first
    this.buckets.set(key, bucket);
    if (this.buckets.size > this.maxKeys) this.evict(now);
    return wait;
  }

  /** How many keys have a bucket (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  private evict(now: number): void {
    for (const [key, bucket] of this.buckets)
      if (this.current(key, now).tokens >= this.spec.burst || bucket.at < now - 3_600_000)
        this.buckets.delete(key);
    for (const key of this.buckets.keys()) {
      if (this.buckets.size <= this.maxKeys) break;
      this.buckets.delete(key);
    }
  }
}
