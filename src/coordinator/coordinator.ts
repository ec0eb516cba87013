/**
 * The coordinator's core: drains, holds, windows and agents, behind the methods the HTTP API
 * calls. Decisions are made by the pure modules (policy, holds, progress, window schedule);
 * this class feeds them the current state, stores the outcome (store first, then push) and
 * emits events. Every change runs through one serial queue, so a policy check and the drain it
 * allows cannot interleave with another request.
 */
import { randomBytes } from 'node:crypto';
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
  NodeProgress,
  Override,
  PolicyEvaluation,
  Violation,
  WindowView,
} from '../wire/coordinator-api.js';
import { AgentRegistry } from './agent-registry.js';
import type { CoordinatorConfig } from './config-schema.js';
import { cronProblems, nextStartFinder, scheduleStarts } from './cron.js';
import { EventBus, type AgentEventData } from './events.js';
import { announcingByNode, findSite, isStale, knownPrefixes, sitePrefixes, type Inventory } from './fleet.js';
import { activeDrains, desiredDrainsForNode, holdsOnSite, holdsToRelease, nodesOfTarget } from './holds.js';
import { HttpError } from './http/http-error.js';
import type { Principal } from './http/auth.js';
import { describeTarget, type AuditInput, type DrainRecord, type WindowRecord } from './model.js';
import { blockingViolations, evaluateDrain } from './policy.js';
import { drainComplete, nodeProgress } from './progress.js';
import type { RouteObserver } from './route-observer.js';
import type { CoordinatorStore, StoreBatch } from './store/store.js';
import { fleetStatus, drainView, windowView, type ViewContext } from './views.js';
import { decideWindow, type NextStart } from './window-schedule.js';

export interface CoordinatorOptions {
  config: CoordinatorConfig;
  store: CoordinatorStore;
  observer?: RouteObserver;
  logger: Logger;
  clock?: () => number;
  /** How often gates, deadlines, staleness and windows are re-evaluated. */
  tickMs?: number;
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

export interface WindowInput {
  target: DrainTarget;
  cron: string;
  duration: number;
  timezone?: string;
  reason: string;
  ticket?: string;
  hold?: number;
  autoRelease: boolean;
}

/** Released drains stay in memory this long (for release progress), unless their release completed. */
const RELEASED_RETENTION_MS = 3_600_000;

function newId(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

function sameViolations(a: readonly Violation[], b: readonly Violation[]): boolean {
  return (
    JSON.stringify(a.map((v) => [v.rule, v.message])) === JSON.stringify(b.map((v) => [v.rule, v.message]))
  );
}

function sameProgress(a: readonly NodeProgress[], b: readonly NodeProgress[]): boolean {
  return (
    JSON.stringify(a.map((n) => [n.node, n.stage, n.stale])) ===
    JSON.stringify(b.map((n) => [n.node, n.stage, n.stale]))
  );
}

export class Coordinator {
  readonly events: EventBus;
  private readonly config: CoordinatorConfig;
  private readonly store: CoordinatorStore;
  private readonly observer: RouteObserver | undefined;
  private readonly logger: Logger;
  private readonly clock: () => number;
  private readonly inventory: Inventory;
  private readonly agents: AgentRegistry;
  private readonly drains = new Map<string, DrainRecord>();
  private readonly windows = new Map<string, WindowRecord>();
  private readonly nextStarts = new Map<string, NextStart>();
  private readonly cronStops = new Map<string, () => void>();
  /** Released drains: the release progress last announced, to emit only changes. */
  private readonly releaseSeen = new Map<string, string>();
  /** prefix → nodes the route observer still sees; null until the first complete observation. */
  private observation: Map<string, Set<string>> | null = null;
  private observerError = '';
  private queue: Promise<unknown> = Promise.resolve();
  private reconcilePending = false;
  private tickTimer: NodeJS.Timeout | undefined;
  private observerTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly tickMs: number;

  private constructor(options: CoordinatorOptions) {
    this.config = options.config;
    this.store = options.store;
    this.observer = options.observer;
    this.logger = options.logger;
    this.clock = options.clock ?? Date.now;
    this.tickMs = options.tickMs ?? 1000;
    this.inventory = { sites: options.config.inventory.sites };
    this.agents = new AgentRegistry(
      this.inventory.sites.flatMap((s) => s.nodes),
      options.config.agents.staleAfter,
    );
    this.events = new EventBus((error) =>
      this.logger.error({ err: coerceError(error) }, 'event listener failed'),
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
    for (const window of await this.store.listWindows()) this.trackWindow(window);
    this.logger.info(
      { activeDrains: this.drains.size, windows: this.windows.size },
      this.drains.size
        ? `resuming ${this.drains.size} active drain(s) from the store`
        : 'no active drains in the store',
    );
  }

  start(): void {
    this.tickTimer = setInterval(() => this.tick(), this.tickMs);
    for (const window of this.windows.values()) this.scheduleWindow(window);
    if (this.observer) this.scheduleObservation(0);
    void this.serial(() => this.reconcile());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.tickTimer);
    clearTimeout(this.observerTimer);
    for (const stop of this.cronStops.values()) stop();
    this.cronStops.clear();
    await this.queue.catch(() => undefined);
  }

  // ---------------------------------------------------------------- serial queue

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Coalesces reconcile requests: many reports in a burst cause one pass. */
  private requestReconcile(): void {
    if (this.reconcilePending || this.stopped) return;
    this.reconcilePending = true;
    setImmediate(() => {
      this.reconcilePending = false;
      void this.serial(() => this.reconcile()).catch((error) =>
        this.logger.error({ err: coerceError(error) }, 'reconcile failed'),
      );
    });
  }

  private tick(): void {
    const now = this.clock();
    for (const { node, stale } of this.agents.staleTransitions(now)) {
      if (stale)
        this.logger.warn(
          { node },
          `agent ${node} is stale: not heard from within ${this.config.agents.staleAfter} ms`,
        );
      else this.logger.info({ node }, `agent ${node} reports again`);
      this.events.emit('agent.stale', this.agentEventData(node, now), now);
    }
    void this.serial(async () => {
      await this.evaluateWindows();
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
      observerConfigured: !!this.observer,
      staleAfterMs: this.config.agents.staleAfter,
      now,
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
    now: number,
  ): PolicyEvaluation {
    const reports = this.agents.reports;
    const reporting = new Set(
      [...reports.keys()].filter((node) => !isStale(reports.get(node), now, this.config.agents.staleAfter)),
    );
    return evaluateDrain({
      policy: this.config.policy,
      inventory: this.inventory,
      announcing: announcingByNode(reports, now, this.config.agents.staleAfter),
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

  private agentEventData(node: string, now: number): AgentEventData {
    const report = this.agents.reports.get(node);
    const stale = this.agents.isStale(node, now);
    return {
      node,
      site: this.inventory.sites.find((s) => s.nodes.includes(node))?.name ?? report?.status.site ?? '',
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
  requestDrain(principal: Principal, input: DrainInput): Promise<DrainCreated> {
    const problems = this.targetProblems(input.target);
    if (input.deadline !== undefined && input.deadline <= this.clock())
      problems.push(
        `deadline: expected a time in the future, received ${new Date(input.deadline).toISOString()}`,
      );
    if (problems.length) return Promise.reject(HttpError.problems('drain request', problems));
    return this.serial(async () => {
      const now = this.clock();
      const result = await this.createDrain(principal.name, input, null, now);
      if (result.refused && !input.dryRun)
        throw HttpError.refused(
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
    const evaluation = this.evaluate(input.target, input.overrides, null, 'start', now);
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
      id: newId('d'),
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
        stale: this.agents.isStale(node, now),
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
    await this.reconcile();
    return { evaluation, refused: false, drain };
  }

  /** Releases one hold by id (anyone's: naming the id is explicit). Idempotent. */
  releaseDrain(principal: Principal, id: string, reason?: string): Promise<DrainView> {
    return this.serial(async () => {
      const drain = this.drains.get(id) ?? (await this.store.getDrain(id));
      if (!drain) throw HttpError.notFound(`no drain ${id}`);
      if (drain.status === 'active') await this.release(drain, principal.name, reason ?? null, this.clock());
      return this.view(drain);
    });
  }

  /** Releases the caller's own holds on exactly this target; other owners' holds stay. */
  releaseByTarget(
    principal: Principal,
    target: DrainTarget,
    reason?: string,
  ): Promise<{ released: DrainView[]; otherHolds: { id: string; owner: string; reason: string }[] }> {
    const problems = this.targetProblems({
      site: target.site,
      ...(target.node ? { node: target.node } : {}),
    });
    if (problems.length) return Promise.reject(HttpError.problems('release request', problems));
    return this.serial(async () => {
      const now = this.clock();
      const mine = holdsToRelease(this.allDrains(), principal.name, target);
      for (const drain of mine) await this.release(drain, principal.name, reason ?? null, now);
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
            complete: drainComplete(drain.nodes, !!this.observer),
          },
        },
      ],
    });
    Object.assign(drain, released);
    this.drains.set(drain.id, drain);
    this.logger.info({ drain: drain.id, by: actor, owner: drain.owner }, 'drain released');
    this.events.emit('drain.released', { drain: this.view(drain, now) }, now);
    await this.reconcile();
  }

  async getDrain(id: string): Promise<DrainView> {
    const drain = this.drains.get(id) ?? (await this.store.getDrain(id));
    if (!drain) throw HttpError.notFound(`no drain ${id}`);
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
   * Brings everything up to date, inside the queue: node progress of each drain, the withdraw
   * step (policy re-checked), deadlines, then the desired state of every node (stored, then
   * pushed). Safe to run any time; does nothing when nothing changed.
   */
  private async reconcile(): Promise<void> {
    if (this.stopped) return;
    const now = this.clock();
    const changed: DrainRecord[] = [];
    const audit: AuditInput[] = [];
    const emits: (() => void)[] = [];
    for (const drain of activeDrains(this.allDrains())) {
      const next = this.advance(drain, now, audit, emits);
      if (next) changed.push(next);
    }
    const merged = new Map(this.drains);
    for (const drain of changed) merged.set(drain.id, drain);
    const updates = this.agents.changes(
      (node) => desiredDrainsForNode(this.inventory, [...merged.values()], node),
      now,
    );
    if (changed.length || audit.length || updates.length) {
      await this.commit({ drains: changed, audit, desired: updates });
    }
    for (const drain of changed) this.drains.set(drain.id, drain);
    for (const emit of emits) emit();
    this.agents.publish(updates);
    for (const { node, desired } of updates)
      this.logger.info(
        { node, revision: desired.revision, drains: desired.drains.map((d) => `${d.id}:${d.phase}`) },
        'desired state published',
      );
    this.trackReleases(now);
  }

  /** One drain's progress, withdraw step and deadline. Returns the new record if anything stored changed. */
  private advance(
    drain: DrainRecord,
    now: number,
    audit: AuditInput[],
    emits: (() => void)[],
  ): DrainRecord | null {
    const base = {
      at: now,
      actor: 'coordinator',
      site: drain.target.site,
      target: describeTarget(drain.target),
      drainId: drain.id,
      windowId: drain.windowId,
    };
    const nodes = nodesOfTarget(this.inventory, drain.target).map((node) =>
      nodeProgress({
        drain,
        node,
        report: this.agents.reports.get(node),
        stale: this.agents.isStale(node, now),
        observerConfigured: !!this.observer,
        observation: this.observation,
        previous: drain.nodes.find((n) => n.node === node),
        now,
      }),
    );
    const next: DrainRecord = { ...drain, nodes };
    let stored = !sameProgress(drain.nodes, nodes);
    for (const node of nodes) {
      const before = drain.nodes.find((n) => n.node === node.node);
      if (before?.stage !== node.stage)
        audit.push({
          ...base,
          action: 'drain.step',
          reason: null,
          details: { node: node.node, from: before?.stage ?? null, to: node.stage, detail: node.detail },
        });
    }
    // The withdraw step: after the graceful hold, and only if the policy still allows it.
    const holdMs = drain.holdMs ?? this.config.policy.defaultHold;
    if (drain.phase === 'graceful' && now - drain.createdAt >= holdMs) {
      const evaluation = this.evaluate(drain.target, drain.overrides, drain.id, 'withdraw', now);
      if (evaluation.allowed) {
        next.phase = 'withdraw';
        next.phaseChangedAt = now;
        next.blocked = [];
        stored = true;
        audit.push({
          ...base,
          action: 'drain.step',
          reason: null,
          details: { phase: 'withdraw', overridden: evaluation.violations },
        });
      } else {
        const blocking = blockingViolations(evaluation);
        if (!sameViolations(drain.blocked, blocking)) {
          next.blocked = blocking;
          stored = true;
          audit.push({ ...base, action: 'drain.blocked', reason: null, details: { rules: blocking } });
          this.logger.warn(
            { drain: drain.id, rules: blocking.map((v) => v.rule) },
            'withdraw step blocked by policy; holding GRACEFUL_SHUTDOWN',
          );
          emits.push(() => this.events.emit('drain.blocked', { drain: this.view(next, now) }, now));
        }
      }
    }
    const complete = drainComplete(nodes, !!this.observer);
    if (complete && next.completedAt === null) {
      next.completedAt = now;
      stored = true;
      audit.push({
        ...base,
        action: 'drain.completed',
        reason: null,
        details: { nodes: nodes.map((n) => `${n.node}:${n.stage}`) },
      });
      this.logger.info({ drain: drain.id }, 'drain complete: every node withdrawn');
      emits.push(() => this.events.emit('drain.completed', { drain: this.view(next, now) }, now));
    }
    if (drain.deadline !== null && now >= drain.deadline && !drain.overdue) {
      next.overdue = true;
      stored = true;
      audit.push({ ...base, action: 'drain.overdue', reason: null, details: { deadline: drain.deadline } });
      this.logger.warn({ drain: drain.id, owner: drain.owner }, 'drain is past its deadline');
      emits.push(() => this.events.emit('drain.overdue', { drain: this.view(next, now) }, now));
    }
    const progressed = stored || nodes.some((n, i) => n.detail !== drain.nodes[i]?.detail);
    if (progressed)
      emits.unshift(() => this.events.emit('drain.progress', { drain: this.view(next, now) }, now));
    if (!stored) {
      // Detail-only changes stay in memory; nothing worth a disk write.
      if (progressed) this.drains.set(drain.id, next);
      return null;
    }
    return next;
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
    this.events.emit('agent.connected', this.agentEventData(node, now), now);
    return () => {
      close();
      if (this.stopped) return;
      const at = this.clock();
      this.logger.info({ node }, 'agent disconnected');
      this.events.emit('agent.disconnected', this.agentEventData(node, at), at);
    };
  }

  /** Takes an agent's report; 400 when it claims another node or site. */
  ingestReport(node: string, status: AgentStatus): { revision: number | null } {
    const site = this.inventory.sites.find((s) => s.nodes.includes(node));
    const problems: string[] = [];
    if (status.node !== node)
      problems.push(
        `node: expected ${JSON.stringify(node)} (the token's node), received ${JSON.stringify(status.node)}`,
      );
    if (site && status.site !== site.name)
      problems.push(
        `site: expected ${JSON.stringify(site.name)} (the inventory's site of ${node}), received ${JSON.stringify(status.site)}`,
      );
    if (problems.length) throw HttpError.problems('report', problems);
    const now = this.clock();
    const wasStale = this.agents.isStale(node, now);
    const changed = this.agents.record(node, status, now);
    if (changed || wasStale) {
      this.events.emit('agent.report', this.agentEventData(node, now), now);
      this.requestReconcile();
    }
    return { revision: this.agents.revisionOf(node) };
  }

  /** Whether a node is in the inventory. */
  hasNode(node: string): boolean {
    return this.inventory.sites.some((s) => s.nodes.includes(node));
  }

  get keepaliveMs(): number {
    return this.config.agents.keepalive;
  }

  // ---------------------------------------------------------------- route observer

  private scheduleObservation(delay: number): void {
    if (this.stopped || !this.observer) return;
    this.observerTimer = setTimeout(() => {
      void this.observe().finally(() =>
        this.scheduleObservation(this.config.routeObserver?.interval ?? 1000),
      );
    }, delay);
  }

  /** Asks the observer about every prefix of every active drain; unknown prefixes stay unverified. */
  private async observe(): Promise<void> {
    const observer = this.observer!;
    const prefixes = new Set<string>();
    for (const drain of activeDrains(this.allDrains())) {
      if (drain.target.prefix) prefixes.add(drain.target.prefix);
      else
        for (const node of nodesOfTarget(this.inventory, drain.target))
          for (const p of this.agents.reports.get(node)?.status.prefixes ?? []) prefixes.add(p.prefix);
    }
    if (!prefixes.size) return;
    const next = new Map<string, Set<string>>();
    const errors: string[] = [];
    await Promise.all(
      [...prefixes].map(async (prefix) => {
        try {
          next.set(prefix, await observer.announcingNodes(prefix));
        } catch (error) {
          errors.push(coerceError(error).message);
        }
      }),
    );
    const message = errors.join('; ');
    if (message !== this.observerError) {
      if (message) this.logger.warn({ errors }, 'route observer failed; affected nodes stay unverified');
      else if (this.observerError) this.logger.info('route observer answers again');
      this.observerError = message;
    }
    const key = (m: Map<string, Set<string>> | null) =>
      JSON.stringify(m ? [...m].map(([p, nodes]) => [p, [...nodes].sort()]).sort() : null);
    if (key(next) !== key(this.observation)) {
      this.observation = next;
      this.requestReconcile();
    }
  }

  // ---------------------------------------------------------------- windows

  private trackWindow(window: WindowRecord): void {
    this.windows.set(window.id, window);
    this.nextStarts.set(window.id, nextStartFinder(window.cron, window.timezone));
  }

  private scheduleWindow(window: WindowRecord): void {
    if (this.stopped) return;
    this.cronStops.get(window.id)?.();
    this.cronStops.set(
      window.id,
      scheduleStarts(
        window.cron,
        window.timezone,
        window.id,
        () => {
          // Starts are decided by the pure schedule; the cron firing only makes it prompt.
          void this.serial(() => this.evaluateWindows()).catch((error) =>
            this.logger.error({ err: coerceError(error), window: window.id }, 'window evaluation failed'),
          );
        },
        this.logger,
      ),
    );
  }

  private windowView(window: WindowRecord, now = this.clock()): WindowView {
    return windowView(window, this.nextStarts.get(window.id)?.(now) ?? null);
  }

  addWindow(principal: Principal, input: WindowInput): Promise<WindowView> {
    const problems = [
      ...this.targetProblems(input.target),
      ...cronProblems(input.cron, input.timezone).map(
        (p) => `${p.includes('time zone') ? 'timezone' : 'cron'}: ${p}`,
      ),
    ];
    if (problems.length) return Promise.reject(HttpError.problems('window', problems));
    return this.serial(async () => {
      const now = this.clock();
      const window: WindowRecord = {
        id: newId('w'),
        target: input.target,
        cron: input.cron,
        durationMs: input.duration,
        timezone: input.timezone ?? null,
        reason: input.reason,
        ticket: input.ticket ?? null,
        holdMs: input.hold ?? null,
        autoRelease: input.autoRelease,
        owner: principal.name,
        createdAt: now,
        occurrence: null,
      };
      this.trackWindow(window);
      await this.commit({
        windows: [window],
        audit: [
          {
            at: now,
            actor: principal.name,
            action: 'window.added',
            site: window.target.site,
            target: describeTarget(window.target),
            windowId: window.id,
            reason: window.reason,
            details: {
              cron: window.cron,
              durationMs: window.durationMs,
              timezone: window.timezone,
              autoRelease: window.autoRelease,
              ticket: window.ticket,
            },
          },
        ],
      });
      this.scheduleWindow(window);
      const view = this.windowView(window, now);
      this.events.emit('window.added', { window: view }, now);
      return view;
    });
  }

  /** Removes a window; a drain it started stays held until released (say so to the caller). */
  removeWindow(
    principal: Principal,
    id: string,
  ): Promise<{ window: WindowView; drainStillHeld: string | null }> {
    return this.serial(async () => {
      const window = this.windows.get(id);
      if (!window) throw HttpError.notFound(`no window ${id}`);
      const now = this.clock();
      const drainId = window.occurrence?.drainId ?? null;
      const held = drainId && this.drains.get(drainId)?.status === 'active' ? drainId : null;
      await this.commit({
        deletedWindows: [id],
        audit: [
          {
            at: now,
            actor: principal.name,
            action: 'window.removed',
            site: window.target.site,
            target: describeTarget(window.target),
            windowId: id,
            reason: null,
            details: { drainStillHeld: held },
          },
        ],
      });
      this.cronStops.get(id)?.();
      this.cronStops.delete(id);
      this.windows.delete(id);
      const view = this.windowView(window, now);
      this.nextStarts.delete(id);
      this.events.emit('window.removed', { window: view }, now);
      return { window: view, drainStillHeld: held };
    });
  }

  listWindows(): WindowView[] {
    const now = this.clock();
    return [...this.windows.values()].map((w) => this.windowView(w, now));
  }

  getWindow(id: string): WindowView {
    const window = this.windows.get(id);
    if (!window) throw HttpError.notFound(`no window ${id}`);
    return this.windowView(window);
  }

  /** Whether every node of a target reports healthy right now (fresh reports only). */
  private targetHealthy(target: DrainTarget, now: number): boolean {
    return nodesOfTarget(this.inventory, target).every(
      (node) => !this.agents.isStale(node, now) && this.agents.reports.get(node)?.status.healthy === true,
    );
  }

  /** Inside the queue: starts, retries, ends and auto-releases window occurrences. */
  private async evaluateWindows(): Promise<void> {
    const now = this.clock();
    for (const window of [...this.windows.values()]) {
      const actions = decideWindow({
        window,
        now,
        nextStart: this.nextStarts.get(window.id)!,
        drainActive: (id) => this.drains.get(id)?.status === 'active',
      });
      for (const action of actions) {
        if (action.kind === 'none') continue;
        const actor = `window:${window.id}`;
        const base = {
          at: now,
          actor,
          site: window.target.site,
          target: describeTarget(window.target),
          windowId: window.id,
        };
        if (action.kind === 'start' || action.kind === 'retry') {
          const occurrence =
            action.kind === 'start'
              ? {
                  startedAt: action.startedAt,
                  endsAt: action.endsAt,
                  drainId: null,
                  ended: false,
                  refused: [] as Violation[],
                }
              : window.occurrence!;
          const result = await this.createDrain(
            window.owner,
            {
              target: window.target,
              reason: `maintenance window ${window.id}: ${window.reason}`,
              ...(window.ticket ? { ticket: window.ticket } : {}),
              deadline: occurrence.endsAt,
              ...(window.holdMs !== null ? { hold: window.holdMs } : {}),
              overrides: [],
              dryRun: false,
            },
            window.id,
            now,
          );
          const refused = result.drain ? [] : blockingViolations(result.evaluation);
          const next: WindowRecord = {
            ...window,
            occurrence: { ...occurrence, drainId: result.drain?.id ?? null, refused },
          };
          const firstTry = action.kind === 'start' || !sameViolations(occurrence.refused, refused);
          await this.commit({
            windows: [next],
            audit:
              action.kind === 'start' || result.drain
                ? [
                    {
                      ...base,
                      action: result.drain ? 'window.started' : 'window.refused',
                      drainId: result.drain?.id ?? null,
                      reason: window.reason,
                      details: { startedAt: occurrence.startedAt, endsAt: occurrence.endsAt, rules: refused },
                    },
                  ]
                : [],
          });
          this.windows.set(window.id, next);
          Object.assign(window, next);
          const view = this.windowView(next, now);
          if (result.drain)
            this.events.emit('window.started', { window: view, drainId: result.drain.id }, now);
          else if (firstTry) {
            this.logger.warn(
              { window: window.id, rules: refused.map((v) => v.rule) },
              'maintenance window could not start its drain; retrying while the window lasts',
            );
            this.events.emit('window.refused', { window: view, rules: refused }, now);
          }
        } else if (action.kind === 'end') {
          const occurrence = window.occurrence!;
          const next: WindowRecord = { ...window, occurrence: { ...occurrence, ended: true } };
          const drain = occurrence.drainId ? this.drains.get(occurrence.drainId) : undefined;
          const batch: StoreBatch = {
            windows: [next],
            audit: [
              {
                ...base,
                action: 'window.ended',
                drainId: occurrence.drainId,
                reason: null,
                details: { autoRelease: window.autoRelease, drainActive: drain?.status === 'active' },
              },
            ],
          };
          if (drain && drain.status === 'active' && !drain.overdue) {
            const overdue = { ...drain, overdue: true };
            batch.drains = [overdue];
            batch.audit!.push({
              ...base,
              action: 'drain.overdue',
              drainId: drain.id,
              reason: null,
              details: { windowEndedAt: occurrence.endsAt },
            });
            Object.assign(drain, overdue);
          }
          await this.commit(batch);
          this.windows.set(window.id, next);
          Object.assign(window, next);
          this.events.emit(
            'window.ended',
            { window: this.windowView(next, now), drainId: occurrence.drainId },
            now,
          );
          if (drain?.status === 'active') {
            this.logger.warn(
              { window: window.id, drain: drain.id },
              'maintenance window ended with its drain still held: overdue',
            );
            this.events.emit('drain.overdue', { drain: this.view(drain, now) }, now);
          }
        } else if (action.kind === 'auto-release') {
          const drain = this.drains.get(action.drainId);
          if (drain?.status === 'active' && this.targetHealthy(drain.target, now))
            await this.release(drain, actor, 'maintenance window ended and every node is healthy', now);
        }
      }
    }
  }

  // ---------------------------------------------------------------- reads

  status(site?: string): FleetStatus {
    const status = fleetStatus({
      ...this.viewContext(),
      policy: this.config.policy,
      connected: (node) => this.agents.isConnected(node),
      revisionOf: (node) => this.agents.revisionOf(node),
    });
    if (site === undefined) return status;
    if (!findSite(this.inventory, site))
      throw HttpError.notFound(
        `no site ${site}; expected one of ${this.inventory.sites.map((s) => s.name).join(', ')}`,
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
  } {
    const now = this.clock();
    const status = this.status();
    const nodes = this.inventory.sites.flatMap((s) => s.nodes);
    const active = activeDrains(this.allDrains());
    return {
      agentsConnected: this.agents.connectedCount(),
      agentsStale: nodes.filter((n) => this.agents.isStale(n, now)).length,
      sitesAnnouncing: new Map(status.sites.map((s) => [s.name, s.announcing])),
      drainsActive: active.length,
      drainsBlocked: active.filter((d) => d.blocked.length > 0).length,
      drainsOverdue: active.filter((d) => d.overdue).length,
      windows: this.windows.size,
    };
  }
}
