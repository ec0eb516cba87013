/**
 * The coordinator, composed: the agent hub (agent-hub.ts) serves agents, the drain service
 * (drain-service.ts) decides and stores drains, the window runner (window-runner.ts) runs
 * maintenance windows through the drain service, the reconciler (reconcile.ts) turns drains into
 * desired state, and panic (panic-controller.ts) is decided at each reconcile. This class wires
 * them, runs the timers (and, on etcd, the store probe: store-health.ts), and keeps the methods
 * the HTTP API and the dashboard call.
 */
import type { Logger } from '../util/log.js';
import { coerceError } from '../util/errors.js';
import type { AgentDesired, AgentStatus } from '../wire/agent-status.js';
import type {
  AuditEntry,
  AuditQuery,
  DrainCreated,
  DrainTarget,
  DrainView,
  FleetStatus,
  WindowView,
} from '../wire/coordinator-api.js';
import { AgentHub } from './agent-hub.js';
import type { CoordinatorConfig } from './config-schema.js';
import { ChangeNotStoredError, NotFoundError } from './domain-errors.js';
import { DrainService, type DrainInput } from './drain-service.js';
import { EventBus } from './events.js';
import { findSite, monotonicClock, type Inventory, type MonotonicClock } from './fleet.js';
import { activeDrains } from './holds.js';
import type { Actor, NodeReport } from './model.js';
import { ObserverLoop } from './observer-loop.js';
import { PanicController } from './panic-controller.js';
import { Reconciler } from './reconcile.js';
import type { RouteObserver } from './route-observer.js';
import { StoreReadError, StoreWriteError, type CoordinatorStore } from './store/store.js';
import { StoreHealth } from './store-health.js';
import { ReplicaEvents } from './replicas/replica-events.js';
import type { ReplicaSet } from './replicas/replica-set.js';
import { ALWAYS_LEADER, catchUp, replicaSingleton, type Singleton } from './replicas/singleton.js';
import { fleetStatus } from './views.js';
import { WindowRunner, type WindowInput } from './window-runner.js';

export type { DrainInput, WindowInput };

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

export class Coordinator {
  readonly events: EventBus;
  private readonly config: CoordinatorConfig;
  private readonly store: CoordinatorStore;
  private readonly logger: Logger;
  private readonly clock: () => number;
  private readonly inventory: Inventory;
  private readonly agents: AgentHub;
  private readonly drains: DrainService;
  private readonly windows: WindowRunner;
  private readonly reconciler: Reconciler;
  private readonly observerLoop: ObserverLoop | undefined;
  /** Panic mode (panic-controller.ts): decided at each reconcile, pushed to every agent while active. */
  private readonly panic: PanicController;
  private readonly storeHealth: StoreHealth;
  private probeTimer: NodeJS.Timeout | undefined;
  private probing = false;
  private probeAgain = false;
  private tickTimer: NodeJS.Timeout | undefined;
  /** Says on the event stream what changed among the replicas (replicas/replica-events.ts). */
  private readonly replicaEvents: ReplicaEvents | undefined;
  private stopped = false;
  private readonly tickMs: number;
  private readonly singleton: Singleton;
  private readonly replicas: ReplicaSet | undefined;

  private constructor(options: CoordinatorOptions) {
    const { config, logger, replicas } = options;
    this.config = config;
    this.replicas = options.replicas;
    this.store = options.replicas ? options.replicas.fenced(options.store) : options.store;
    this.singleton = options.replicas
      ? replicaSingleton(options.replicas, (fresh) =>
          catchUp(this.store, { drains: this.drains, windows: this.windows }, fresh),
        )
      : ALWAYS_LEADER;
    this.logger = logger;
    this.clock = options.clock ?? Date.now;
    const monotonic = options.monotonic ?? monotonicClock;
    const clock = this.clock;
    this.tickMs = options.tickMs ?? 1000;
    this.inventory = { sites: config.inventory.sites };
    const inventory = this.inventory;
    this.events = new EventBus((error) => logger.error({ err: coerceError(error) }, 'event listener failed'));
    const events = this.events;
    this.replicaEvents = replicas ? new ReplicaEvents(replicas, events) : undefined;
    this.storeHealth = new StoreHealth(config.store.engine, logger, clock, events);
    this.agents = new AgentHub({
      config,
      inventory,
      events,
      logger,
      clock,
      monotonic,
      onChange: () => this.reconciler.request(),
      stopped: () => this.stopped,
      inGrace: () => options.replicas?.grace.active ?? false,
      sharedHealth: replicas ? () => replicas.otherReplicasHealth() : undefined,
    });
    replicas?.shareReportTimes(() => this.agents.reports);
    this.panic = new PanicController({
      config,
      inventory,
      siteOf: this.agents.siteOf,
      agents: this.agents.registry,
      events,
      logger,
      clock,
      monotonic,
    });
    this.observerLoop = options.observer
      ? new ObserverLoop(
          options.observer,
          config.routeObserver?.interval ?? 1000,
          () => this.drains.observedPrefixes(),
          () => this.reconciler.request(),
          logger,
        )
      : undefined;
    this.drains = new DrainService({
      config,
      inventory,
      store: this.store,
      agents: this.agents,
      events,
      logger,
      clock,
      monotonic,
      observerConfigured: !!this.observerLoop,
      afterChange: (change) => this.reconciler.after(change),
      adoptWindows: (windows) => this.windows.adopt(windows),
      storeOutcome: (error) => this.storeHealth.outcome(error),
      // etcd only: its probe notices when the store answers again (SQLite has no probe). Two
      // probe intervals: one slow read on a loaded machine is not a lost store.
      ...(config.store.engine === 'etcd'
        ? { storeFailure: () => this.storeHealth.failure(2 * etcdHealthInterval(config)) }
        : {}),
      adopted: () => this.reconciler.request(),
    });
    this.reconciler = new Reconciler({
      config,
      inventory,
      drains: this.drains,
      agents: this.agents,
      panic: this.panic,
      observerLoop: this.observerLoop,
      events,
      logger,
      clock,
      monotonic,
      singleton: this.singleton,
    });
    this.windows = new WindowRunner(this.drains, events, logger, clock);
  }

  /** Loads drains, windows and published desired state from the store. */
  static async open(options: CoordinatorOptions): Promise<Coordinator> {
    const coordinator = new Coordinator(options);
    await coordinator.load();
    return coordinator;
  }

  private async load(): Promise<void> {
    this.drains.load(await this.store.listDrains({ status: 'active' }));
    this.agents.registry.restore(await this.store.loadDesired());
    this.panic.resume(this.agents.registry.publishedStates());
    this.windows.load(await this.store.listWindows());
    const active = this.drains.size;
    this.logger.info(
      { activeDrains: active, windows: this.windows.count },
      active ? `resuming ${active} active drain(s) from the store` : 'no active drains in the store',
    );
  }

  start(): void {
    this.tickTimer = setInterval(() => this.tick(), this.tickMs);
    this.observerLoop?.start();
    // Replicas share etcd: read what the others changed, and notice a lost store, every interval.
    if (this.config.store.engine === 'etcd') {
      const interval = this.config.store.healthInterval;
      this.probeTimer = setInterval(() => this.probeStore(interval), interval);
      // And at once when another replica stored a decision: a drain made through it reaches the
      // agents connected here (and the leader's steps) without waiting for the interval.
      this.replicas?.onDecisionChange(() => this.probeStore(interval));
    }
    void this.drains.serial(() => this.reconciler.run());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.reconciler.stop();
    clearInterval(this.tickTimer);
    clearInterval(this.probeTimer);
    this.observerLoop?.stop();
    await this.drains.idle();
  }

  private tick(): void {
    this.agents.noticeStaleness(this.clock());
    this.replicaEvents?.check(this.clock());
    void this.drains
      .serial(async () => {
        await this.singleton.asLeader(() => this.windows.evaluate());
        await this.reconciler.run();
      })
      .catch((error) => {
        // A store fault is logged once when it starts and once when it ends (store-health.ts).
        if (error instanceof StoreWriteError || error instanceof ChangeNotStoredError) return;
        this.logger.error({ err: coerceError(error) }, 'tick failed');
      });
  }

  /**
   * Reads the decision state outside the queue (a busy queue must not look like a lost store),
   * within `timeoutMs`; adopts it in the queue unless a change of ours came after the read.
   * One probe at a time: a read that hangs on a cluster without quorum is not stacked up.
   */
  private probeStore(timeoutMs: number): void {
    if (this.stopped) return;
    if (this.probing) {
      // A decision stored while a read is under way may not be in that read: read once more after.
      this.probeAgain = true;
      return;
    }
    this.probing = true;
    this.probeAgain = false;
    const commitsBefore = this.drains.commitCount;
    const read = this.store.readDecisionState();
    const done = () => {
      this.probing = false;
      if (this.probeAgain) setImmediate(() => this.probeStore(timeoutMs));
    };
    read.then(done, done);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      // When the deadline fires after this process itself was busy (timers run before I/O in an
      // event-loop turn), an answer that already arrived is read first: setImmediate runs after
      // the I/O phase, so only a read still unanswered by then counts against the store.
      timer = setTimeout(
        () =>
          setImmediate(() =>
            reject(
              new StoreReadError(
                'store unreachable',
                `the store did not answer a read within ${timeoutMs} ms`,
              ),
            ),
          ),
        timeoutMs,
      );
    });
    Promise.race([read, late])
      .then((state) => {
        this.storeHealth.outcome(null);
        return this.drains.serial(() => this.drains.adoptIfCurrent(state, commitsBefore));
      })
      .catch((error: unknown) => {
        if (error instanceof StoreWriteError) this.storeHealth.outcome(error);
        else this.logger.error({ err: coerceError(error) }, 'store probe failed');
      })
      .finally(() => clearTimeout(timer));
  }

  // ---------------------------------------------------------------- drains (drain-service.ts)

  /** Evaluates a drain request; stores it when allowed (and not a dry run). Refusals throw PolicyRefusedError. */
  requestDrain(principal: Actor, input: DrainInput): Promise<DrainCreated> {
    return this.drains.requestDrain(principal, input);
  }

  /** Releases one hold by id; `charge` runs only when something is about to change. */
  releaseDrain(principal: Actor, id: string, reason?: string, charge?: () => void): Promise<DrainView> {
    return this.drains.releaseDrain(principal, id, reason, charge);
  }

  /** Releases the caller's own holds on exactly this target; other owners' holds stay. */
  releaseByTarget(
    principal: Actor,
    target: DrainTarget,
    reason?: string,
    charge?: () => void,
  ): Promise<{ released: DrainView[]; otherHolds: { id: string; owner: string; reason: string }[] }> {
    return this.drains.releaseByTarget(principal, target, reason, charge);
  }

  getDrain(id: string): Promise<DrainView> {
    return this.drains.getDrain(id);
  }

  listDrains(filter: {
    status: 'active' | 'released' | 'all';
    site?: string;
    limit: number;
  }): Promise<DrainView[]> {
    return this.drains.listDrains(filter);
  }

  // ---------------------------------------------------------------- agents (agent-hub.ts)

  /** Opens an agent's push stream; returns the function that closes it. */
  connectAgent(node: string, push: (desired: AgentDesired) => void): () => void {
    return this.agents.connectAgent(node, push);
  }

  /** Takes an agent's report; InvalidRequestError when it claims another node or site. */
  ingestReport(node: string, status: AgentStatus): { revision: number | null } {
    return this.agents.ingestReport(node, status);
  }

  /** A node's last full report and when it arrived (for the dashboard's node view). */
  nodeReport(node: string): NodeReport | undefined {
    return this.agents.nodeReport(node);
  }

  /** The last full report of every agent connected to this coordinator. */
  nodeReports(): Iterable<NodeReport> {
    return this.agents.nodeReports();
  }

  /** Whether a node is in the inventory. */
  hasNode(node: string): boolean {
    return this.agents.hasNode(node);
  }

  get keepaliveMs(): number {
    return this.config.agents.keepalive;
  }

  // ---------------------------------------------------------------- windows (window-runner.ts)

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

  // ---------------------------------------------------------------- reads

  status(site?: string): FleetStatus {
    const context = this.drains.viewContext();
    const registry = this.agents.registry;
    const status: FleetStatus = {
      ...fleetStatus({
        ...context,
        policy: this.config.policy,
        connected: (node) => registry.isConnected(node),
        revisionOf: (node) => registry.revisionOf(node),
        servedElsewhere: (node) => this.agents.servedElsewhere(node),
        lastHeardElsewhere: this.replicas && ((health) => this.replicas!.lastHeardAt(health)),
      }),
      panic: this.panic.view(context.now),
      store: this.storeHealth.view(),
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
    const active = activeDrains(this.drains.all());
    return {
      agentsConnected: this.agents.registry.connectedCount(),
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

/** How often an etcd replica probes its store (0 for SQLite, which has no probe). */
function etcdHealthInterval(config: CoordinatorConfig): number {
  return config.store.engine === 'etcd' ? config.store.healthInterval : 0;
}
