/**
 * The coordinator's core: drains, holds, windows and agents, behind the methods the HTTP API
 * calls. Decisions are made by the pure modules (policy, holds, progress, window schedule);
 * this class feeds them the current state, stores the outcome (store first, then push) and
 * emits events. Every change runs through one serial queue, so a policy check and the drain it
 * allows cannot interleave with another request.
 */
import { randomBytes } from 'node:crypto';
import { describeValue } from '../config/load.js';
import type { Logger } from '../util/log.js';
import { coerceError } from '../util/errors.js';
import type { AgentStatus } from '../wire/agent-status.js';
import type {
  AuditEntry,
  AuditQuery,
  DrainCreated,
  DrainTarget,
  DrainView,
  FleetStatus,
  Override,
  PolicyEvaluation,
  WindowView,
} from '../wire/coordinator-api.js';
import { InvalidRequestError, NotFoundError, notStored, PolicyRefusedError } from './domain-errors.js';
import { AgentRegistry } from './agent-registry.js';
import type { CoordinatorConfig } from './config-schema.js';
import { advanceDrain, GracefulHolds } from './drain-advance.js';
import { EventBus, type AgentEventData } from './events.js';
import {
  announcingByNode,
  findSite,
  knownPrefixes,
  monotonicClock,
  sitePrefixes,
  type Inventory,
  type MonotonicClock,
} from './fleet.js';
import { activeDrains, desiredDrainsByNode, holdsOnSite, holdsToRelease, nodesOfTarget } from './holds.js';
import { describeTarget, type Actor, type AuditInput, type DrainRecord, type NodeReport } from './model.js';
import { ObserverLoop } from './observer-loop.js';
import { PanicController } from './panic-controller.js';
import { SerialQueue } from './serial-queue.js';
import { blockingViolations, evaluateDrain } from './policy.js';
import { drainComplete } from './progress.js';
import type { RouteObserver } from './route-observer.js';
import type { ReplicaSet } from './replicas/replica-set.js';
import { StoreWriteError, type CoordinatorStore, type StoreBatch } from './store/store.js';
import { fleetStatus, drainView, type ViewContext } from './views.js';
import { WindowRunner, type WindowInput } from './window-runner.js';

export type { WindowInput };

export interface CoordinatorOptions {
  config: CoordinatorConfig;
  store: CoordinatorStore;
  observer?: RouteObserver;
  logger: Logger;
  /** The wall clock: times recorded and shown, deadlines, maintenance windows. */
  clock?: () => number;
  /** Durations (agent staleness, graceful holds); performance.now by default (fleet.ts). */
  monotonic?: MonotonicClock;
  /** How often gates, deadlines, staleness and windows are re-evaluated. */
  tickMs?: number;
  /** Replicas (replicas/replica-set.ts): singleton work only on the leader, fenced. Absent: always leads. */
  replicas?: ReplicaSet;
}

/** A validated drain request (the API body after parsing). */
export interface DrainInput {
  target: DrainTarget;
  reason: string;
  ticket?: string;
  deadline?: number;
  hold?: number;
  overrides: Override[];
  dryRun: boolean;
}

/** Released drains stay in memory this long (for release progress), unless their release completed. */
const RELEASED_RETENTION_MS = 3_600_000;

export class Coordinator {
  readonly events: EventBus;
  private readonly config: CoordinatorConfig;
  private readonly store: CoordinatorStore;
  private readonly logger: Logger;
  private readonly clock: () => number;
  private readonly monotonic: MonotonicClock;
  /** How long each drain has held its graceful phase (drain-advance.ts). */
  private readonly gracefulHolds: GracefulHolds;
  private readonly inventory: Inventory;
  /** node → its site, for the per-report paths. */
  private readonly siteOf = new Map<string, string>();
  private readonly agents: AgentRegistry;
  private readonly drains = new Map<string, DrainRecord>();
  private readonly windows: WindowRunner;
  private readonly observerLoop: ObserverLoop | undefined;
  /** Released drains: the release progress last announced, to emit only changes. */
  private readonly releaseSeen = new Map<string, string>();
  /** Panic mode (panic-controller.ts): decided at each reconcile, pushed to every agent while active. */
  private readonly panic: PanicController;
  private readonly queue = new SerialQueue();
  private reconcilePending = false;
  private lastReconcileEnd = 0;
  private lastReconcileCostMs = 0;
  private tickTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly tickMs: number;
  private readonly replicas: ReplicaSet | undefined;

  private constructor(options: CoordinatorOptions) {
    this.config = options.config;
    this.replicas = options.replicas;
    this.store = options.replicas ? options.replicas.fenced(options.store) : options.store;
    this.logger = options.logger;
    this.clock = options.clock ?? Date.now;
    this.monotonic = options.monotonic ?? monotonicClock;
    this.gracefulHolds = new GracefulHolds(this.monotonic);
    this.tickMs = options.tickMs ?? 1000;
    this.inventory = { sites: options.config.inventory.sites };
    for (const site of this.inventory.sites) for (const node of site.nodes) this.siteOf.set(node, site.name);
    this.agents = new AgentRegistry(
      this.inventory.sites.flatMap((s) => s.nodes),
      options.config.agents.staleAfter,
      this.monotonic,
      () => this.replicas?.grace.active ?? false,
    );
    this.events = new EventBus((error) =>
      this.logger.error({ err: coerceError(error) }, 'event listener failed'),
    );
    this.panic = new PanicController({
      config: options.config,
      inventory: this.inventory,
      siteOf: this.siteOf,
      agents: this.agents,
      events: this.events,
      logger: this.logger,
      clock: this.clock,
      monotonic: this.monotonic,
    });
    this.observerLoop = options.observer
      ? new ObserverLoop(
          options.observer,
          options.config.routeObserver?.interval ?? 1000,
          () => this.observedPrefixes(),
          () => this.requestReconcile(),
          this.logger,
        )
      : undefined;
    this.windows = new WindowRunner(
      {
        clock: this.clock,
        serial: (task) => this.serial(task),
        commit: (batch) => this.commit(batch),
        targetProblems: (target) => this.targetProblems(target),
        createDrain: (owner, input, windowId, now) =>
          this.createDrain(owner, { ...input, overrides: [], dryRun: false }, windowId, now),
        release: (drain, actor, reason, now) => this.release(drain, actor, reason, now),
        drain: (id) => this.drains.get(id),
        setDrain: (drain) => void this.drains.set(drain.id, drain),
        drainView: (drain, now) => this.view(drain, now),
        targetHealthy: (target) => this.targetHealthy(target),
      },
      this.events,
      this.logger,
    );
  }

  /** Loads drains, windows and published desired state from the store. */
  static async open(options: CoordinatorOptions): Promise<Coordinator> {
    const coordinator = new Coordinator(options);
    await coordinator.load();
    return coordinator;
  }

  private async load(): Promise<void> {
    for (const drain of await this.store.listDrains({ status: 'active' })) this.drains.set(drain.id, drain);
    this.agents.restore(await this.store.loadDesired());
    this.panic.resume(this.agents.publishedStates());
    this.windows.load(await this.store.listWindows());
    this.logger.info(
      { activeDrains: this.drains.size, windows: this.windows.count },
      this.drains.size
        ? `resuming ${this.drains.size} active drain(s) from the store`
        : 'no active drains in the store',
    );
  }

  start(): void {
    this.tickTimer = setInterval(() => this.tick(), this.tickMs);
    this.observerLoop?.start();
    void this.serial(() => this.reconcile());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.tickTimer);
    this.observerLoop?.stop();
    await this.queue.idle();
  }

  /** Every change runs through one queue (serial-queue.ts). */
  private serial<T>(task: () => Promise<T>): Promise<T> {
    return this.queue.run(task);
  }

  /** Coalesces reconcile requests: many reports in a burst cause one pass. */
  private requestReconcile(): void {
    if (this.reconcilePending || this.stopped) return;
    this.reconcilePending = true;
    // A pass walks the whole fleet. When reports keep changing (thousands of agents reconnecting
    // after a restart), run it at most every 3× its own duration so it takes at most a quarter
    // of the coordinator's time; for a small fleet that is still the next turn of the loop.
    const wait = Math.max(0, this.lastReconcileEnd + 3 * this.lastReconcileCostMs - performance.now());
    const run = () => {
      this.reconcilePending = false;
      void this.serial(async () => {
        const started = performance.now();
        try {
          await this.reconcile();
        } finally {
          this.lastReconcileEnd = performance.now();
          this.lastReconcileCostMs = this.lastReconcileEnd - started;
        }
      }).catch((error) => this.logger.error({ err: coerceError(error) }, 'reconcile failed'));
    };
    if (wait < 1) setImmediate(run);
    else setTimeout(run, wait);
  }

  private tick(): void {
    const now = this.clock();
    for (const { node, stale } of this.agents.staleTransitions()) {
      if (stale)
        this.logger.warn(
          { node },
          `agent ${node} is stale: not heard from within ${this.config.agents.staleAfter} ms`,
        );
      else this.logger.info({ node }, `agent ${node} reports again`);
      this.events.emit('agent.stale', this.agentEventData(node), now);
    }
    void this.serial(async () => {
      await this.asLeader(() => this.windows.evaluate());
      await this.reconcile();
    }).catch((error) => this.logger.error({ err: coerceError(error) }, 'tick failed'));
  }

  // ---------------------------------------------------------------- context for pure functions

  private allDrains(): DrainRecord[] {
    return [...this.drains.values()];
  }

  private viewContext(now = this.clock()): ViewContext {
    return {
      inventory: this.inventory,
      reports: this.agents.reports,
      drains: this.allDrains(),
      observerConfigured: !!this.observerLoop,
      staleAfterMs: this.config.agents.staleAfter,
      now,
      monotonicNow: this.monotonic(),
    };
  }

  private view(record: DrainRecord, now = this.clock()): DrainView {
    return drainView(record, this.viewContext(now));
  }

  private evaluate(
    target: DrainTarget,
    overrides: readonly Override[],
    excludeId: string | null,
    step: 'start' | 'withdraw',
  ): PolicyEvaluation {
    const reports = this.agents.reports;
    const reporting = new Set([...reports.keys()].filter((node) => !this.agents.isStale(node)));
    return evaluateDrain({
      policy: this.config.policy,
      inventory: this.inventory,
      announcing: announcingByNode(reports, this.monotonic(), this.config.agents.staleAfter),
      reporting,
      prefixes: knownPrefixes(reports),
      others: activeDrains(this.allDrains())
        .filter((d) => d.id !== excludeId)
        .map((d) => ({ id: d.id, owner: d.owner, target: d.target })),
      proposed: target,
      overrides,
      step,
    });
  }

  private agentEventData(node: string): AgentEventData {
    const report = this.agents.reports.get(node);
    const stale = this.agents.isStale(node);
    return {
      node,
      site: this.siteOf.get(node) ?? report?.status.site ?? '',
      state: report?.status.state ?? null,
      healthy: report?.status.healthy ?? null,
      announcing:
        stale || !report
          ? []
          : report.status.prefixes
              .filter((p) => p.acknowledged === 'announce' || p.acknowledged === 'graceful')
              .map((p) => p.prefix),
      stale,
      connected: this.agents.isConnected(node),
      lastSeenAt: report?.receivedAt ?? null,
    };
  }

  /** Commits a batch and then emits its audit entries as events. */
  private async commit(batch: StoreBatch): Promise<AuditEntry[]> {
    const entries = await this.store.commit(batch);
    for (const entry of entries) this.events.emit('audit', { entry }, entry.at);
    return entries;
  }

  // ---------------------------------------------------------------- validation

  /** Problems with a target against the inventory (and the prefixes the site's agents report). */
  private targetProblems(target: DrainTarget): string[] {
    const site = findSite(this.inventory, target.site);
    if (!site)
      return [
        `site: expected one of ${this.inventory.sites.map((s) => s.name).join(', ')}, received ${JSON.stringify(target.site)}`,
      ];
    const problems: string[] = [];
    if (target.node && !site.nodes.includes(target.node))
      problems.push(
        `node: expected a node of ${site.name} (${site.nodes.join(', ')}), received ${JSON.stringify(target.node)}`,
      );
    if (target.prefix) {
      const served = sitePrefixes(site, this.agents.reports);
      if (served.length && !served.includes(target.prefix))
        problems.push(
          `prefix: expected a prefix ${site.name} announces (${served.join(', ')}), received ${JSON.stringify(target.prefix)}`,
        );
    }
    return problems;
  }

  // ---------------------------------------------------------------- drains

  /** Evaluates a drain request; stores it when allowed (and not a dry run). Refusals throw 409. */
  requestDrain(principal: Actor, input: DrainInput): Promise<DrainCreated> {
    const problems = this.targetProblems(input.target);
    if (input.deadline !== undefined && input.deadline <= this.clock())
      problems.push(
        `deadline: expected a time in the future, received ${new Date(input.deadline).toISOString()}`,
      );
    if (problems.length) return Promise.reject(new InvalidRequestError('drain request', problems));
    return this.serial(async () => {
      const now = this.clock();
      const result = await this.createDrain(principal.name, input, null, now).catch((error: unknown) => {
        throw notStored('the drain', error);
      });
      if (result.refused && !input.dryRun)
        throw new PolicyRefusedError(
          `drain of ${describeTarget(input.target)} refused by ${blockingViolations(result.evaluation)
            .map((v) => v.rule)
            .join(', ')}; nothing changed`,
          result.evaluation.violations,
        );
      return {
        dryRun: input.dryRun,
        evaluation: result.evaluation,
        nodes: nodesOfTarget(this.inventory, input.target),
        otherHolds: holdsOnSite(this.allDrains(), input.target.site)
          .filter((d) => d.id !== result.drain?.id)
          .map((d) => ({ id: d.id, owner: d.owner, reason: d.reason })),
        drain: result.drain ? this.view(result.drain, now) : null,
      };
    });
  }

  /** Inside the queue: policy check, then store + audit + push. Shared by the API and windows. */
  private async createDrain(
    owner: string,
    input: DrainInput,
    windowId: string | null,
    now: number,
  ): Promise<{ evaluation: PolicyEvaluation; refused: boolean; drain: DrainRecord | null }> {
    const evaluation = this.evaluate(input.target, input.overrides, null, 'start');
    if (input.dryRun) return { evaluation, refused: !evaluation.allowed, drain: null };
    const audit = {
      at: now,
      actor: owner,
      site: input.target.site,
      target: describeTarget(input.target),
      windowId,
      reason: input.reason,
    };
    if (!evaluation.allowed) {
      await this.commit({
        audit: [
          {
            ...audit,
            action: 'drain.refused',
            details: {
              rules: evaluation.violations,
              ticket: input.ticket ?? null,
              overrides: input.overrides,
            },
          },
        ],
      });
      this.logger.warn(
        { owner, target: audit.target, rules: blockingViolations(evaluation).map((v) => v.rule) },
        'drain refused by policy',
      );
      return { evaluation, refused: true, drain: null };
    }
    const drain: DrainRecord = {
      id: `d-${randomBytes(5).toString('hex')}`,
      target: input.target,
      reason: input.reason,
      ticket: input.ticket ?? null,
      owner,
      createdAt: now,
      deadline: input.deadline ?? null,
      holdMs: input.hold ?? null,
      overrides: input.overrides,
      windowId,
      status: 'active',
      phase: 'graceful',
      phaseChangedAt: now,
      blocked: [],
      overdue: false,
      completedAt: null,
      nodes: nodesOfTarget(this.inventory, input.target).map((node) => ({
        node,
        stage: 'pending',
        stale: this.agents.isStale(node),
        detail: 'waiting for the agent',
        since: now,
      })),
      releasedAt: null,
      releasedBy: null,
      releaseReason: null,
    };
    await this.commit({
      drains: [drain],
      audit: [
        {
          ...audit,
          action: 'drain.requested',
          drainId: drain.id,
          details: {
            ticket: drain.ticket,
            deadline: drain.deadline,
            holdMs: drain.holdMs,
            overrides: drain.overrides,
            overridden: evaluation.violations.filter((v) => v.overridden !== undefined),
            nodes: drain.nodes.map((n) => n.node),
          },
        },
      ],
    });
    this.drains.set(drain.id, drain);
    this.logger.info({ drain: drain.id, owner, target: audit.target, reason: drain.reason }, 'drain started');
    this.events.emit('drain.created', { drain: this.view(drain, now) }, now);
    await this.reconcileAfter(`drain ${drain.id}`);
    return { evaluation, refused: false, drain };
  }

  /**
   * Releases one hold by id (anyone's: naming the id is explicit). Idempotent. `charge` runs
   * (and may refuse, e.g. a rate limit) only when something is about to change.
   */
  releaseDrain(principal: Actor, id: string, reason?: string, charge?: () => void): Promise<DrainView> {
    return this.serial(async () => {
      const drain = this.drains.get(id) ?? (await this.store.getDrain(id));
      if (!drain) throw new NotFoundError('drain', id);
      if (drain.status === 'active') {
        charge?.();
        await this.release(drain, principal.name, reason ?? null, this.clock()).catch((error: unknown) => {
          throw notStored(`the release of ${id}`, error);
        });
      }
      return this.view(drain);
    });
  }

  /** Releases the caller's own holds on exactly this target; other owners' holds stay. `charge` as above. */
  releaseByTarget(
    principal: Actor,
    target: DrainTarget,
    reason?: string,
    charge?: () => void,
  ): Promise<{ released: DrainView[]; otherHolds: { id: string; owner: string; reason: string }[] }> {
    const problems = this.targetProblems({
      site: target.site,
      ...(target.node ? { node: target.node } : {}),
    });
    if (problems.length) return Promise.reject(new InvalidRequestError('release request', problems));
    return this.serial(async () => {
      const now = this.clock();
      const mine = holdsToRelease(this.allDrains(), principal.name, target);
      if (mine.length) charge?.();
      const released: string[] = [];
      for (const drain of mine) {
        await this.release(drain, principal.name, reason ?? null, now).catch((error: unknown) => {
          throw notStored(`the release of ${drain.id}`, error, released);
        });
        released.push(drain.id);
      }
      return {
        released: mine.map((d) => this.view(d, now)),
        otherHolds: holdsOnSite(this.allDrains(), target.site).map((d) => ({
          id: d.id,
          owner: d.owner,
          reason: d.reason,
        })),
      };
    });
  }

  private async release(
    drain: DrainRecord,
    actor: string,
    reason: string | null,
    now: number,
  ): Promise<void> {
    const released: DrainRecord = {
      ...drain,
      status: 'released',
      releasedAt: now,
      releasedBy: actor,
      releaseReason: reason,
    };
    await this.commit({
      drains: [released],
      audit: [
        {
          at: now,
          actor,
          action: 'drain.released',
          site: drain.target.site,
          target: describeTarget(drain.target),
          drainId: drain.id,
          windowId: drain.windowId,
          reason,
          details: {
            owner: drain.owner,
            ownHold: drain.owner === actor,
            complete: drainComplete(drain.nodes, !!this.observerLoop),
          },
        },
      ],
    });
    Object.assign(drain, released);
    this.drains.set(drain.id, drain);
    this.logger.info({ drain: drain.id, by: actor, owner: drain.owner }, 'drain released');
    this.events.emit('drain.released', { drain: this.view(drain, now) }, now);
    await this.reconcileAfter(`the release of ${drain.id}`);
  }

  async getDrain(id: string): Promise<DrainView> {
    const drain = this.drains.get(id) ?? (await this.store.getDrain(id));
    if (!drain) throw new NotFoundError('drain', id);
    return this.view(drain);
  }

  async listDrains(filter: {
    status: 'active' | 'released' | 'all';
    site?: string;
    limit: number;
  }): Promise<DrainView[]> {
    const now = this.clock();
    const stored = await this.store.listDrains(filter);
    return stored.map((d) => this.view(this.drains.get(d.id) ?? d, now));
  }

  // ---------------------------------------------------------------- the reconcile pass

  /**
   * The reconcile pass right after a change was stored. A store that cannot write now does not
   * undo that change (the caller is told it happened); the next tick retries the pass.
   */
  private async reconcileAfter(change: string): Promise<void> {
    try {
      await this.reconcile();
    } catch (error) {
      if (!(error instanceof StoreWriteError)) throw error;
      this.logger.error(
        { err: error },
        `${change} is stored, but not yet the desired state it leads to (${error.fault}); retried at every tick`,
      );
    }
  }

  /**
   * Brings everything up to date, inside the queue: node progress of each drain, the withdraw
   * step (policy re-checked), deadlines, then the desired state of every node (stored, then
   * pushed). Safe to run any time; does nothing when nothing changed.
   */
  private async reconcile(): Promise<void> {
    if (this.stopped) return;
    if (!(await this.asLeader(() => this.reconcilePass(true))))
      await (this.replicas
        ? this.replicas.runAsReplica(() => this.reconcilePass(false))
        : this.reconcilePass(false));
  }

  /** Singleton work (windows, drain steps, panic) runs on the leader only, every write fenced. */
  private async asLeader(work: () => Promise<void>): Promise<boolean> {
    if (!this.replicas) return work().then(() => true);
    return this.replicas.runAsLeader(work, (newLeadership) => this.catchUp(newLeadership));
  }

  /**
   * The leader reads what others did before acting: a new leader what the previous one did, and
   * then every second the drains requested or released and windows changed on other replicas.
   * Between those, drains it holds stay as they are (only the leader advances them).
   */
  private async catchUp(newLeadership: boolean): Promise<void> {
    const active = await this.store.listDrains({ status: 'active' });
    for (const drain of this.allDrains())
      if (drain.status === 'active' && !active.some((d) => d.id === drain.id)) {
        const stored = await this.store.getDrain(drain.id);
        if (stored) this.drains.set(stored.id, stored);
      }
    for (const drain of active)
      if (newLeadership || !this.drains.has(drain.id)) this.drains.set(drain.id, drain);
    this.windows.load(await this.store.listWindows());
  }

  private async reconcilePass(leading: boolean): Promise<void> {
    const now = this.clock();
    const changed: DrainRecord[] = [];
    const audit: AuditInput[] = [];
    const emits: (() => void)[] = [];
    const active = activeDrains(this.allDrains());
    this.gracefulHolds.retain(active.map((d) => d.id));
    for (const drain of leading ? active : []) {
      const next = this.advance(drain, now, audit, emits);
      if (next) changed.push(next);
    }
    const merged = new Map(this.drains);
    for (const drain of changed) merged.set(drain.id, drain);
    const desired = desiredDrainsByNode(this.inventory, [...merged.values()]);
    const panicEmit = leading ? this.panic.decide(now, audit) : undefined;
    const directive = this.panic.directive();
    const updates = this.agents.changes(
      (node) => ({ drains: desired.get(node) ?? [], ...(directive ? { panic: directive } : {}) }),
      now,
    );
    if (changed.length || audit.length || updates.length) {
      await this.commit({ drains: changed, audit, desired: updates });
    }
    for (const drain of changed) this.drains.set(drain.id, drain);
    for (const emit of emits) emit();
    panicEmit?.();
    this.agents.publish(updates);
    for (const { node, desired } of updates)
      this.logger.info(
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
    const result = advanceDrain({
      drain,
      inventory: this.inventory,
      reports: this.agents.reports,
      isStale: (node) => this.agents.isStale(node),
      observerConfigured: !!this.observerLoop,
      observation: this.observerLoop?.current() ?? null,
      defaultHoldMs: this.config.policy.defaultHold,
      heldForMs: this.gracefulHolds.heldFor(drain),
      evaluateWithdraw: () => this.evaluate(drain.target, drain.overrides, drain.id, 'withdraw'),
      now,
    });
    const { next } = result;
    audit.push(...result.audit);
    const emit = (type: 'drain.progress' | 'drain.blocked' | 'drain.completed' | 'drain.overdue') =>
      emits.push(() => this.events.emit(type, { drain: this.view(next, now) }, now));
    if (result.progressed) emit('drain.progress');
    for (const notice of result.notices) {
      if (notice === 'withdraw-step')
        this.logger.info({ drain: drain.id }, 'withdraw step cleared by policy');
      if (notice === 'blocked') {
        this.logger.warn(
          { drain: drain.id, rules: next.blocked.map((v) => v.rule) },
          'withdraw step blocked by policy; holding GRACEFUL_SHUTDOWN',
        );
        emit('drain.blocked');
      }
      if (notice === 'completed') {
        this.logger.info({ drain: drain.id }, 'drain complete: every node withdrawn');
        emit('drain.completed');
      }
      if (notice === 'overdue') {
        this.logger.warn({ drain: drain.id, owner: drain.owner }, 'drain is past its deadline');
        emit('drain.overdue');
      }
    }
    if (result.stored) return next;
    // Detail-only changes stay in memory; nothing worth a disk write.
    if (result.progressed) this.drains.set(drain.id, next);
    return null;
  }

  /** Emits progress for released drains until each node has returned; then forgets them. */
  private trackReleases(now: number): void {
    for (const drain of this.allDrains()) {
      if (drain.status !== 'released') continue;
      const view = this.view(drain, now);
      const complete = view.release?.complete ?? true;
      const key = JSON.stringify(view.release);
      if (this.releaseSeen.get(drain.id) !== key) {
        this.releaseSeen.set(drain.id, key);
        this.events.emit('drain.progress', { drain: view }, now);
      }
      const age = now - (drain.releasedAt ?? now);
      if ((complete && age > 60_000) || age > RELEASED_RETENTION_MS) {
        this.drains.delete(drain.id);
        this.releaseSeen.delete(drain.id);
      }
    }
  }

  // ---------------------------------------------------------------- agents

  /** Opens an agent's push stream; returns the function that closes it. */
  connectAgent(node: string, push: (desired: ReturnType<AgentRegistry['desired']>) => void): () => void {
    const close = this.agents.connect(node, push);
    const now = this.clock();
    this.logger.info({ node }, 'agent connected');
    this.events.emit('agent.connected', this.agentEventData(node), now);
    return () => {
      close();
      if (this.stopped) return;
      const at = this.clock();
      this.logger.info({ node }, 'agent disconnected');
      this.events.emit('agent.disconnected', this.agentEventData(node), at);
    };
  }

  /** Takes an agent's report; 400 when it claims another node or site (the claim quoted briefly). */
  ingestReport(node: string, status: AgentStatus): { revision: number | null } {
    const site = this.siteOf.get(node);
    const problems: string[] = [];
    if (status.node !== node)
      problems.push(
        `node: expected ${JSON.stringify(node)} (the token's node), received ${describeValue(status.node)}`,
      );
    if (site && status.site !== site)
      problems.push(
        `site: expected ${JSON.stringify(site)} (the inventory's site of ${node}), received ${describeValue(status.site)}`,
      );
    if (problems.length) throw new InvalidRequestError('report', problems);
    const now = this.clock();
    const wasStale = this.agents.isStale(node);
    const changed = this.agents.record(node, status, now);
    if (changed || wasStale) {
      this.events.emit('agent.report', this.agentEventData(node), now);
      this.requestReconcile();
    }
    return { revision: this.agents.revisionOf(node) };
  }

  /** A node's last full report and when it arrived (for the dashboard's node view). */
  nodeReport(node: string): NodeReport | undefined {
    return this.agents.reports.get(node);
  }

  /** Whether a node is in the inventory. */
  hasNode(node: string): boolean {
    return this.siteOf.has(node);
  }

  get keepaliveMs(): number {
    return this.config.agents.keepalive;
  }

  // ---------------------------------------------------------------- windows (see window-runner.ts)

  addWindow(principal: Actor, input: WindowInput): Promise<WindowView> {
    return this.windows.add(principal, input);
  }

  removeWindow(principal: Actor, id: string): Promise<{ window: WindowView; drainStillHeld: string | null }> {
    return this.windows.remove(principal, id);
  }

  listWindows(): WindowView[] {
    return this.windows.list();
  }

  getWindow(id: string): WindowView {
    return this.windows.get(id);
  }

  /** Whether every node of a target reports healthy right now (fresh reports only). */
  private targetHealthy(target: DrainTarget): boolean {
    return nodesOfTarget(this.inventory, target).every(
      (node) => !this.agents.isStale(node) && this.agents.reports.get(node)?.status.healthy === true,
    );
  }

  /** The prefixes the route observer should watch: those of every active drain. */
  private observedPrefixes(): Set<string> {
    const prefixes = new Set<string>();
    for (const drain of activeDrains(this.allDrains())) {
      if (drain.target.prefix) prefixes.add(drain.target.prefix);
      else
        for (const node of nodesOfTarget(this.inventory, drain.target))
          for (const p of this.agents.reports.get(node)?.status.prefixes ?? []) prefixes.add(p.prefix);
    }
    return prefixes;
  }

  // ---------------------------------------------------------------- reads

  status(site?: string): FleetStatus {
    const context = this.viewContext();
    const status: FleetStatus = {
      ...fleetStatus({
        ...context,
        policy: this.config.policy,
        connected: (node) => this.agents.isConnected(node),
        revisionOf: (node) => this.agents.revisionOf(node),
      }),
      panic: this.panic.view(context.now),
    };
    if (site === undefined) return status;
    if (!findSite(this.inventory, site))
      throw new NotFoundError(
        'site',
        site,
        `; expected one of ${this.inventory.sites.map((s) => s.name).join(', ')}`,
      );
    return { ...status, sites: status.sites.filter((s) => s.name === site) };
  }

  queryAudit(query: AuditQuery): Promise<AuditEntry[]> {
    return this.store.queryAudit(query);
  }

  /** Numbers for /metrics. */
  gauges(): {
    agentsConnected: number;
    agentsStale: number;
    sitesAnnouncing: Map<string, boolean>;
    drainsActive: number;
    drainsBlocked: number;
    drainsOverdue: number;
    windows: number;
    panicActive: boolean;
    /** Share of reporting sites passing every check; null when none reports. */
    healthyShare: number | null;
  } {
    const status = this.status();
    const nodes = this.inventory.sites.flatMap((s) => s.nodes);
    const active = activeDrains(this.allDrains());
    return {
      agentsConnected: this.agents.connectedCount(),
      agentsStale: nodes.filter((n) => this.agents.isStale(n)).length,
      sitesAnnouncing: new Map(status.sites.map((s) => [s.name, s.announcing])),
      drainsActive: active.length,
      drainsBlocked: active.filter((d) => d.blocked.length > 0).length,
      drainsOverdue: active.filter((d) => d.overdue).length,
      windows: this.windows.count,
      panicActive: this.panic.active,
      healthyShare: status.panic?.share ?? null,
    };
  }
}
