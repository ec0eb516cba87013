/**
 * The reconcile pass: moves every active drain forward (drain-advance.ts: node progress, the
 * withdraw step with the policy re-checked, deadlines), decides panic, turns the drains into
 * each node's desired state, stores what changed and then pushes it. Safe to run any time; does
 * nothing when nothing changed. Report bursts are coalesced into one pass.
 */
import type { Logger } from '../util/log.js';
import { coerceError } from '../util/errors.js';
import type { AgentHub } from './agent-hub.js';
import type { CoordinatorConfig } from './config-schema.js';
import { advanceDrain, GracefulHolds } from './drain-advance.js';
import type { DrainService } from './drain-service.js';
import type { EventBus } from './events.js';
import type { Inventory, MonotonicClock } from './fleet.js';
import { activeDrains, desiredDrainsByNode } from './holds.js';
import type { AuditInput, DrainRecord } from './model.js';
import type { ObserverLoop } from './observer-loop.js';
import type { PanicController } from './panic-controller.js';
import { StoreConflictError, StoreWriteError } from './store/store.js';
import { ALWAYS_LEADER, type Singleton } from './replicas/singleton.js';

/** Released drains stay in memory this long (for release progress), unless their release completed. */
const RELEASED_RETENTION_MS = 3_600_000;

export interface ReconcilerOptions {
  config: CoordinatorConfig;
  inventory: Inventory;
  drains: DrainService;
  agents: AgentHub;
  panic: PanicController;
  observerLoop: ObserverLoop | undefined;
  events: EventBus;
  logger: Logger;
  clock: () => number;
  monotonic: MonotonicClock;
  /** Drain steps and panic are singleton work: only on the leader, fenced (replicas/singleton.ts). */
  singleton?: Singleton;
}

export class Reconciler {
  /** How long each drain has held its graceful phase (drain-advance.ts). */
  private readonly gracefulHolds: GracefulHolds;
  /** Released drains: the release progress last announced, to emit only changes. */
  private readonly releaseSeen = new Map<string, string>();
  private pending = false;
  private lastEnd = 0;
  private lastCostMs = 0;
  private stopped = false;

  constructor(private readonly o: ReconcilerOptions) {
    this.gracefulHolds = new GracefulHolds(o.monotonic);
  }

  stop(): void {
    this.stopped = true;
  }

  /** Coalesces reconcile requests: many reports in a burst cause one pass. */
  request(): void {
    if (this.pending || this.stopped) return;
    this.pending = true;
    // A pass walks the whole fleet. When reports keep changing (thousands of agents reconnecting
    // after a restart), run it at most every 3× its own duration so it takes at most a quarter
    // of the coordinator's time; for a small fleet that is still the next turn of the loop.
    const wait = Math.max(0, this.lastEnd + 3 * this.lastCostMs - performance.now());
    const run = () => {
      this.pending = false;
      void this.o.drains
        .serial(async () => {
          const started = performance.now();
          try {
            await this.run();
          } finally {
            this.lastEnd = performance.now();
            this.lastCostMs = this.lastEnd - started;
          }
        })
        .catch((error) => {
          // A store fault is logged once when it starts and once when it ends (store-health.ts).
          if (error instanceof StoreWriteError) return;
          this.o.logger.error({ err: coerceError(error) }, 'reconcile failed');
        });
    };
    if (wait < 1) setImmediate(run);
    else setTimeout(run, wait);
  }

  /**
   * The pass right after a change was stored. A store that cannot write now does not undo that
   * change (the caller is told it happened); the next tick retries the pass.
   */
  async after(change: string): Promise<void> {
    try {
      await this.run();
    } catch (error) {
      if (!(error instanceof StoreWriteError)) throw error;
      this.o.logger.error(
        { err: error },
        `${change} is stored, but not yet the desired state it leads to (${error.fault}); retried at every tick`,
      );
    }
  }

  /**
   * One pass, inside the drain service's queue. The leader advances drains and decides panic
   * (fenced); every replica turns the drains it knows into its agents' desired state.
   */
  async run(): Promise<void> {
    if (this.stopped) return;
    const singleton = this.o.singleton ?? ALWAYS_LEADER;
    if (!(await singleton.asLeader(() => this.pass(true)))) await singleton.asReplica(() => this.pass(false));
  }

  private async pass(leading: boolean): Promise<void> {
    const { drains, agents, panic } = this.o;
    // Drain records are written back only if no replica changed them since this view was read:
    // after a change of ours, read the view again first (another replica may have released a
    // drain this one still holds as active; writing it back would revive it).
    if (drains.revision === null && activeDrains(drains.all()).length) await drains.sync();
    const revision = drains.revision ?? undefined;
    const now = this.o.clock();
    const changed: DrainRecord[] = [];
    const audit: AuditInput[] = [];
    const emits: (() => void)[] = [];
    const active = activeDrains(drains.all());
    this.gracefulHolds.retain(active.map((d) => d.id));
    for (const drain of leading ? active : []) {
      const next = this.advance(drain, now, audit, emits);
      if (next) changed.push(next);
    }
    const merged = new Map(drains.all().map((d) => [d.id, d]));
    for (const drain of changed) merged.set(drain.id, drain);
    const desired = desiredDrainsByNode(this.o.inventory, [...merged.values()]);
    const panicEmit = leading ? panic.decide(now, audit) : undefined;
    const directive = panic.directive();
    const updates = agents.registry.changes(
      (node) => ({ drains: desired.get(node) ?? [], ...(directive ? { panic: directive } : {}) }),
      now,
    );
    if (changed.length || audit.length || updates.length) {
      try {
        await drains.commit(
          { drains: changed, audit, desired: updates },
          changed.length ? revision : undefined,
        );
      } catch (error) {
        if (!(error instanceof StoreConflictError)) throw error;
        // Another replica changed the drains meanwhile: read them again and redo the pass.
        this.o.logger.info('drains changed by another replica during a reconcile pass; running it again');
        this.request();
        return;
      }
    }
    for (const drain of changed) drains.set(drain);
    for (const emit of emits) emit();
    panicEmit?.();
    agents.registry.publish(updates);
    for (const { node, desired } of updates)
      this.o.logger.info(
        { node, revision: desired.revision, drains: desired.drains.map((d) => `${d.id}:${d.phase}`) },
        'desired state published',
      );
    this.trackReleases(now);
  }

  /** One drain moved forward (see drain-advance.ts); queues its events and logs. */
  private advance(
    drain: DrainRecord,
    now: number,
    audit: AuditInput[],
    emits: (() => void)[],
  ): DrainRecord | null {
    const { drains, agents, observerLoop, logger, events } = this.o;
    const { reports, isStale } = agents.progressInputs();
    const result = advanceDrain({
      drain,
      inventory: this.o.inventory,
      reports,
      isStale,
      observerConfigured: !!observerLoop,
      observation: observerLoop?.current() ?? null,
      defaultHoldMs: this.o.config.policy.defaultHold,
      heldForMs: (preDrainsOver) => this.gracefulHolds.heldFor(drain, preDrainsOver),
      evaluateWithdraw: () => drains.evaluate(drain.target, drain.overrides, drain.id, 'withdraw'),
      now,
    });
    const { next } = result;
    audit.push(...result.audit);
    const emit = (type: 'drain.progress' | 'drain.blocked' | 'drain.completed' | 'drain.overdue') =>
      emits.push(() => events.emit(type, { drain: drains.view(next, now) }, now));
    if (result.progressed) emit('drain.progress');
    for (const notice of result.notices) {
      if (notice === 'withdraw-step') logger.info({ drain: drain.id }, 'withdraw step cleared by policy');
      if (notice === 'blocked') {
        logger.warn(
          { drain: drain.id, rules: next.blocked.map((v) => v.rule) },
          'withdraw step blocked by policy; holding GRACEFUL_SHUTDOWN',
        );
        emit('drain.blocked');
      }
      if (notice === 'completed') {
        logger.info({ drain: drain.id }, 'drain complete: every node withdrawn');
        emit('drain.completed');
      }
      if (notice === 'overdue') {
        logger.warn({ drain: drain.id, owner: drain.owner }, 'drain is past its deadline');
        emit('drain.overdue');
      }
    }
    if (result.stored) return next;
    // Detail-only changes stay in memory; nothing worth a disk write.
    if (result.progressed) drains.set(next);
    return null;
  }

  /** Emits progress for released drains until each node has returned; then forgets them. */
  private trackReleases(now: number): void {
    const { drains } = this.o;
    for (const drain of drains.all()) {
      if (drain.status !== 'released') continue;
      const view = drains.view(drain, now);
      const complete = view.release?.complete ?? true;
      const key = JSON.stringify(view.release);
      if (this.releaseSeen.get(drain.id) !== key) {
        this.releaseSeen.set(drain.id, key);
        this.o.events.emit('drain.progress', { drain: view }, now);
      }
      const age = now - (drain.releasedAt ?? now);
      if ((complete && age > 60_000) || age > RELEASED_RETENTION_MS) {
        drains.forget(drain.id);
        this.releaseSeen.delete(drain.id);
      }
    }
  }
}
