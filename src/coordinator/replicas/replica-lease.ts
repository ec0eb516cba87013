/**
 * One etcd lease per coordinator replica: its leader key, its health entries and its entry in
 * the replica directory are all bound to it, so when the replica dies they expire together.
 *
 * The keepalives are our own (npm etcd3's automatic ones report `lost` only after about 2×TTL
 * without an answer: a cut-off leader could act for twice the TTL). Every TTL/6 one keepalive
 * is sent; the lease counts as confirmed until (send time of the last answered keepalive) +
 * TTL. When no keepalive was answered for TTL/2, the lease is `suspect`: whoever acts on it
 * (the leader) stops, with half a TTL to spare before etcd can give its keys to another. When
 * etcd says the lease is gone (TTL ≤ 0) or a full TTL passed without an answer, it is `lost`
 * and a new one is granted as soon as etcd answers again (`granted` again, with a new id).
 */
import { EventEmitter } from 'node:events';
import type { Etcd3, Lease } from 'etcd3';
import type { Logger } from '../../util/log.js';
import { coerceError } from '../../util/errors.js';

export type LeaseState = 'none' | 'alive' | 'suspect';

export interface ReplicaLeaseEvents {
  /** A lease was granted (again): bind the keys to `id`. */
  granted: [id: string];
  /** No keepalive answered for TTL/2: stop acting on it. */
  suspect: [silentMs: number];
  /** Keepalives answered again before the lease was lost. */
  recovered: [];
  /** The lease is gone (expired or revoked); a new one is being granted. */
  lost: [reason: string];
}

export class ReplicaLease extends EventEmitter<ReplicaLeaseEvents> {
  private lease: Lease | undefined;
  private leaseId: string | undefined;
  /** performance.now() when the last answered keepalive (or the grant) was sent. */
  private confirmedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private state: LeaseState = 'none';
  private stopped = false;
  private inFlight = false;

  constructor(
    private readonly client: Etcd3,
    readonly ttlSeconds: number,
    private readonly logger: Logger,
    /** Deadline of a grant or keepalive. */
    private readonly timeoutMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    super();
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 2)
      throw new RangeError(`lease TTL: expected a whole number of seconds ≥ 2, received ${ttlSeconds}`);
  }

  get id(): string | undefined {
    return this.state === 'none' ? undefined : this.leaseId;
  }

  /** Alive: keepalives answered within TTL/2. */
  get alive(): boolean {
    return this.state === 'alive';
  }

  /**
   * Whether something may act on the lease right now: judged at the call, not at the last
   * timer (after a process pause the timers run late; this does not).
   */
  get fresh(): boolean {
    return this.state !== 'none' && this.silentMs < (this.ttlSeconds * 1000) / 2;
  }

  /** Milliseconds since the last answered keepalive was sent (the lease's age from our side). */
  get silentMs(): number {
    return this.now() - this.confirmedAt;
  }

  /** Grants the first lease (rejects when etcd does not answer) and starts the keepalives. */
  async start(): Promise<string> {
    await this.grant();
    this.timer = setInterval(() => void this.beat(), Math.max(100, (this.ttlSeconds * 1000) / 6));
    return this.leaseId!;
  }

  private async grant(): Promise<void> {
    const sentAt = this.now();
    const lease = this.client.lease(this.ttlSeconds, { autoKeepAlive: false });
    lease.on('lost', () => undefined); // we judge loss ourselves
    const id = await withDeadline(lease.grant(), this.timeoutMs, 'lease grant');
    if (this.stopped) {
      void lease.revoke().catch(() => undefined);
      return;
    }
    this.lease = lease;
    this.leaseId = id;
    this.confirmedAt = sentAt;
    this.state = 'alive';
    this.logger.info({ lease: id, ttlSeconds: this.ttlSeconds }, `replica lease ${id} granted`);
    this.emit('granted', id);
  }

  private async beat(): Promise<void> {
    if (this.stopped || this.inFlight) {
      this.judge();
      return;
    }
    this.inFlight = true;
    try {
      if (this.state === 'none') {
        await this.grant();
        return;
      }
      const sentAt = this.now();
      const answer = await withDeadline(this.lease!.keepaliveOnce(), this.timeoutMs, 'lease keepalive');
      if (Number(answer.TTL) <= 0) throw new Error(`etcd says lease ${this.leaseId} has expired`);
      this.confirmedAt = sentAt;
      if (this.state === 'suspect') {
        this.state = 'alive';
        this.logger.info({ lease: this.leaseId }, `replica lease ${this.leaseId} answers again`);
        this.emit('recovered');
      }
    } catch (error) {
      const message = coerceError(error).message;
      if (/expired|not found|LeaseInvalid/i.test(message) && this.state !== 'none') this.lose(message);
      else this.logger.debug({ err: coerceError(error) }, 'lease keepalive failed');
    } finally {
      this.inFlight = false;
      this.judge();
    }
  }

  /** Suspect after TTL/2 of silence, lost after a full TTL (etcd may have expired it by then). */
  private judge(): void {
    if (this.stopped || this.state === 'none') return;
    const silent = this.silentMs;
    if (silent >= this.ttlSeconds * 1000) {
      this.lose(`no keepalive answered for ${Math.round(silent)} ms (TTL ${this.ttlSeconds} s)`);
      return;
    }
    if (this.state === 'alive' && silent >= (this.ttlSeconds * 1000) / 2) {
      this.state = 'suspect';
      this.logger.warn(
        { lease: this.leaseId, silentMs: Math.round(silent) },
        `replica lease ${this.leaseId}: no keepalive answered for ${Math.round(silent)} ms (half the ${this.ttlSeconds} s TTL)`,
      );
      this.emit('suspect', silent);
    }
  }

  private lose(reason: string): void {
    if (this.state === 'none') return;
    const wasSuspect = this.state === 'suspect';
    this.state = 'none';
    this.lease?.release();
    this.lease = undefined;
    this.logger.warn({ lease: this.leaseId, reason }, `replica lease ${this.leaseId} lost: ${reason}`);
    if (!wasSuspect) this.emit('suspect', this.silentMs);
    this.emit('lost', reason);
  }

  /** Stops the keepalives and revokes the lease (its keys go at once). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    const lease = this.lease;
    this.lease = undefined;
    this.state = 'none';
    if (lease) await withDeadline(lease.revoke(), this.timeoutMs, 'lease revoke').catch(() => undefined);
  }
}

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
