/**
 * Panic mode at run time (the decisions are panic.ts's): holds the state, re-decides it at each
 * reconcile pass once every live agent had time to report, queues the audit entry of each
 * transition, reminds the log while it lasts, resumes a panic the published desired state still
 * carries after a restart, and says what agents are told (the directive) and what operators see.
 * Durations run on the monotonic clock: a wall-clock step must not end panic early or late.
 */
import type { Logger } from '../util/log.js';
import type { AgentDesired, PanicDirective } from '../wire/agent-status.js';
import type { PanicStatus } from '../wire/coordinator-api.js';
import type { AgentRegistry } from './agent-registry.js';
import type { CoordinatorConfig } from './config-schema.js';
import type { EventBus } from './events.js';
import type { Inventory, MonotonicClock } from './fleet.js';
import type { AuditInput } from './model.js';
import {
  NO_PANIC,
  decidePanic,
  panicIgnoredChecks,
  panicStatus,
  siteHealth,
  type PanicState,
  type SiteHealth,
} from './panic.js';

/** While panic lasts, the log says so again this often. */
const PANIC_REMINDER_MS = 300_000;

export interface PanicControllerOptions {
  config: CoordinatorConfig;
  inventory: Inventory;
  /** node → its site. */
  siteOf: ReadonlyMap<string, string>;
  agents: AgentRegistry;
  events: EventBus;
  logger: Logger;
  clock: () => number;
  monotonic: MonotonicClock;
}

export class PanicController {
  private state: PanicState = NO_PANIC;
  /** Monotonic times: when panic was last logged, and since when this process holds it. */
  private remindedAt = 0;
  private heldSince: number | null = null;
  /** Panic is decided only once every live agent had time to report (agents.staleAfter after start). */
  private readonly decidesFrom: number;

  constructor(private readonly o: PanicControllerOptions) {
    this.decidesFrom = o.monotonic() + o.config.agents.staleAfter;
  }

  get active(): boolean {
    return this.state.active;
  }

  /** A panic in force when the coordinator stopped is still what every agent was told. */
  resume(published: Iterable<AgentDesired>): void {
    for (const desired of published)
      if (desired.panic?.active && (!this.state.active || desired.panic.since < this.state.since!))
        this.state = { active: true, since: desired.panic.since, reason: desired.panic.reason };
    if (this.state.active) {
      // Its minimum duration counts again from this start: held a little longer, never cut short.
      this.heldSince = this.o.monotonic();
      this.o.logger.warn({ since: this.state.since, reason: this.state.reason }, 'resuming in PANIC MODE');
    }
  }

  private siteHealth(): SiteHealth[] {
    const { agents } = this.o;
    return siteHealth(this.o.inventory, agents.reports, (node) => agents.isStale(node));
  }

  /**
   * Re-decides panic (inside the coordinator's queue); on a transition, queues its audit entry
   * and returns the event to emit once the batch is stored. Logs loudly while it lasts.
   */
  decide(now: number, audit: AuditInput[]): (() => void) | null {
    const { config, logger } = this.o;
    const mono = this.o.monotonic();
    if (mono < this.decidesFrom) return null; // just started: not everyone has reported yet
    const sites = this.siteHealth();
    const heldFor = this.heldSince === null ? undefined : mono - this.heldSince;
    const decision = decidePanic(config.panic, this.state, sites, now, heldFor);
    this.state = decision.state;
    if (decision.transition === 'engaged') this.heldSince = mono;
    else if (decision.transition === 'disengaged') this.heldSince = null;
    if (!decision.transition) {
      if (this.state.active && mono - this.remindedAt >= PANIC_REMINDER_MS) {
        this.remindedAt = mono;
        logger.warn(
          { since: this.state.since, now: decision.why },
          `PANIC MODE still engaged: ${decision.why}`,
        );
      }
      return null;
    }
    const view = this.view(now, sites);
    audit.push({
      at: now,
      actor: 'coordinator',
      action: `panic.${decision.transition}`,
      site: null,
      target: 'fleet',
      reason: decision.why,
      details: {
        healthySites: view.healthySites,
        reportingSites: view.reportingSites,
        share: view.share,
        threshold: view.threshold,
        releaseAt: view.releaseAt,
        failing: view.failing,
      },
    });
    this.remindedAt = mono;
    if (decision.transition === 'engaged')
      logger.warn({ failing: view.failing, share: view.share }, `PANIC MODE ENGAGED: ${decision.why}`);
    else logger.warn({ share: view.share }, `panic mode disengaged: ${decision.why}`);
    const type = decision.transition === 'engaged' ? 'panic.engaged' : 'panic.disengaged';
    return () => this.o.events.emit(type, { panic: this.view(now) }, now);
  }

  /** What every agent is told while panic lasts; undefined when there is none. */
  directive(): PanicDirective | undefined {
    if (!this.state.active) return undefined;
    return {
      active: true,
      since: this.state.since ?? this.o.clock(),
      reason: (this.state.reason ?? 'panic mode').slice(0, 2000),
      holdMs: this.o.config.panic.agentHold,
    };
  }

  view(now: number, sites = this.siteHealth()): PanicStatus {
    const { agents } = this.o;
    const ignoring: PanicStatus['ignoring'] = [];
    for (const [node, report] of agents.reports) {
      if (agents.isStale(node)) continue;
      const checks = panicIgnoredChecks(report.status);
      if (checks.length) ignoring.push({ node, site: this.o.siteOf.get(node) ?? report.status.site, checks });
    }
    ignoring.sort((a, b) => a.node.localeCompare(b.node));
    return {
      ...panicStatus(this.o.config.panic, this.state, sites, ignoring),
      startupGrace: this.o.monotonic() < this.decidesFrom,
    };
  }
}
