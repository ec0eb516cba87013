/**
 * Drains: requested by operators or by maintenance windows, checked by the safety policy
 * (policy.ts), stored with their audit entry, released by id or by target. Built on the drains
 * this replica tracks in agreement with the store (tracked-drains.ts: the serial queue, commits
 * conditioned on what a decision read, re-deciding on conflict). Each change is followed by a
 * reconcile pass (`afterChange`), which turns the drains into desired state for the agents.
 * Node health that counts toward the floors: this replica's agents and the shared health board.
 */
import { randomBytes } from 'node:crypto';
import type {
  DrainCreated,
  DrainTarget,
  DrainView,
  Override,
  PolicyEvaluation,
} from '../wire/coordinator-api.js';
import type { AgentHub } from './agent-hub.js';
import type { CoordinatorConfig } from './config-schema.js';
import { InvalidRequestError, NotFoundError, PolicyRefusedError } from './domain-errors.js';
import { findSite, sitePrefixes, type Inventory, type MonotonicClock } from './fleet.js';
import { activeDrains, holdsOnSite, holdsToRelease, nodesOfTarget } from './holds.js';
import { describeTarget, type Actor, type AuditInput, type DrainRecord } from './model.js';
import { blockingViolations, evaluateDrain } from './policy.js';
import { drainComplete } from './progress.js';
import type { DecisionState, StoreBatch } from './store/store.js';
import { mergeBatches, TrackedDrains, type TrackedDrainsOptions } from './tracked-drains.js';
import { drainView, type ViewContext } from './views.js';

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

/** A drain a maintenance window starts: no overrides, never a dry run. */
export type WindowDrainInput = Pick<DrainInput, 'target' | 'reason' | 'ticket' | 'hold'> & {
  deadline: number;
};

export interface DrainOutcome {
  evaluation: PolicyEvaluation;
  refused: boolean;
  drain: DrainRecord | null;
}

export interface DrainServiceOptions extends TrackedDrainsOptions {
  config: CoordinatorConfig;
  inventory: Inventory;
  agents: AgentHub;
  monotonic: MonotonicClock;
  /** Whether a route observer confirms withdrawals (drain completeness depends on it). */
  observerConfigured: boolean;
  /** The reconcile pass after a stored change (reconcile.ts `after`). */
  afterChange: (change: string) => Promise<void>;
}

export class DrainService extends TrackedDrains {
  private readonly o: DrainServiceOptions;

  constructor(options: DrainServiceOptions) {
    super(options);
    this.o = options;
  }

  // ---------------------------------------------------------------- views and checks

  viewContext(now = this.o.clock()): ViewContext {
    return {
      inventory: this.o.inventory,
      reports: this.o.agents.reports,
      drains: this.all(),
      observerConfigured: this.o.observerConfigured,
      staleAfterMs: this.o.config.agents.staleAfter,
      now,
      monotonicNow: this.o.monotonic(),
    };
  }

  view(record: DrainRecord, now = this.o.clock()): DrainView {
    return drainView(record, this.viewContext(now));
  }

  /** The policy's verdict on a target, against the drains tracked here (minus `excludeId`). */
  evaluate(
    target: DrainTarget,
    overrides: readonly Override[],
    excludeId: string | null,
    step: 'start' | 'withdraw',
    drains: readonly DrainRecord[] = this.all(),
  ): PolicyEvaluation {
    return evaluateDrain({
      policy: this.o.config.policy,
      inventory: this.o.inventory,
      ...this.o.agents.healthInputs(),
      others: activeDrains(drains)
        .filter((d) => d.id !== excludeId)
        .map((d) => ({ id: d.id, owner: d.owner, target: d.target })),
      proposed: target,
      overrides,
      step,
    });
  }

  /** Problems with a target against the inventory (and the prefixes the site's agents report). */
  targetProblems(target: DrainTarget): string[] {
    const { inventory } = this.o;
    const site = findSite(inventory, target.site);
    if (!site)
      return [
        `site: expected one of ${inventory.sites.map((s) => s.name).join(', ')}, received ${JSON.stringify(target.site)}`,
      ];
    const problems: string[] = [];
    if (target.node && !site.nodes.includes(target.node))
      problems.push(
        `node: expected a node of ${site.name} (${site.nodes.join(', ')}), received ${JSON.stringify(target.node)}`,
      );
    if (target.prefix) {
      const served = sitePrefixes(site, this.o.agents.reports);
      if (served.length && !served.includes(target.prefix))
        problems.push(
          `prefix: expected a prefix ${site.name} announces (${served.join(', ')}), received ${JSON.stringify(target.prefix)}`,
        );
    }
    return problems;
  }

  targetHealthy(target: DrainTarget): boolean {
    return this.o.agents.targetHealthy(target);
  }

  // ---------------------------------------------------------------- requests

  /** Evaluates a drain request; stores it when allowed (and not a dry run). Refusals throw PolicyRefusedError. */
  requestDrain(principal: Actor, input: DrainInput): Promise<DrainCreated> {
    const problems = this.targetProblems(input.target);
    if (input.deadline !== undefined && input.deadline <= this.o.clock())
      problems.push(
        `deadline: expected a time in the future, received ${new Date(input.deadline).toISOString()}`,
      );
    if (problems.length) return Promise.reject(new InvalidRequestError('drain request', problems));
    return this.decide('the drain', async (state) => {
      const now = this.o.clock();
      const result = await this.createDrain(principal.name, input, null, now, state);
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
        nodes: nodesOfTarget(this.o.inventory, input.target),
        otherHolds: holdsOnSite(this.all(), input.target.site)
          .filter((d) => d.id !== result.drain?.id)
          .map((d) => ({ id: d.id, owner: d.owner, reason: d.reason })),
        drain: result.drain ? this.view(result.drain, now) : null,
      };
    });
  }

  /**
   * Inside a decision: a maintenance window's drain, through the policy like any request;
   * `windowBatch` (the window's own record and audit) is stored in the same commit.
   */
  startWindowDrain(
    owner: string,
    input: WindowDrainInput,
    windowId: string,
    now: number,
    state: DecisionState,
    windowBatch: (drain: DrainRecord | null, evaluation: PolicyEvaluation) => StoreBatch,
  ): Promise<DrainOutcome> {
    return this.createDrain(
      owner,
      { ...input, overrides: [], dryRun: false },
      windowId,
      now,
      state,
      windowBatch,
    );
  }

  /** Inside a decision: policy check against the state read, then store + audit + push. */
  private async createDrain(
    owner: string,
    input: DrainInput,
    windowId: string | null,
    now: number,
    state: DecisionState,
    also?: (drain: DrainRecord | null, evaluation: PolicyEvaluation) => StoreBatch,
  ): Promise<DrainOutcome> {
    const evaluation = this.evaluate(input.target, input.overrides, null, 'start', state.drains);
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
      await this.commit(
        mergeBatches(
          {
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
          },
          also?.(null, evaluation),
        ),
        state.revision,
      );
      this.o.logger.warn(
        { owner, target: audit.target, rules: blockingViolations(evaluation).map((v) => v.rule) },
        'drain refused by policy',
      );
      return { evaluation, refused: true, drain: null };
    }
    const drain = this.newDrain(owner, input, windowId, now);
    const requested: StoreBatch = {
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
    };
    await this.commit(mergeBatches(requested, also?.(drain, evaluation)), state.revision);
    this.drains.set(drain.id, drain);
    this.o.logger.info(
      { drain: drain.id, owner, target: audit.target, reason: drain.reason },
      'drain started',
    );
    this.o.events.emit('drain.created', { drain: this.view(drain, now) }, now);
    await this.o.afterChange(`drain ${drain.id}`);
    return { evaluation, refused: false, drain };
  }

  private newDrain(owner: string, input: DrainInput, windowId: string | null, now: number): DrainRecord {
    return {
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
      nodes: nodesOfTarget(this.o.inventory, input.target).map((node) => ({
        node,
        stage: 'pending',
        stale: this.o.agents.isStale(node),
        detail: 'waiting for the agent',
        since: now,
      })),
      releasedAt: null,
      releasedBy: null,
      releaseReason: null,
    };
  }

  /**
   * Releases one hold by id (anyone's: naming the id is explicit). Idempotent. `charge` runs
   * (and may refuse, e.g. a rate limit) only when something is about to change.
   */
  releaseDrain(principal: Actor, id: string, reason?: string, charge?: () => void): Promise<DrainView> {
    const chargeOnce = once(charge);
    return this.decide(`the release of ${id}`, async (state) => {
      const drain = this.drains.get(id) ?? (await this.o.store.getDrain(id));
      if (!drain) throw new NotFoundError('drain', id);
      if (drain.status === 'active') {
        chargeOnce();
        await this.release([drain], principal.name, reason ?? null, this.o.clock(), state.revision);
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
    const chargeOnce = once(charge);
    return this.decide(`the release of ${describeTarget(target)}`, async (state) => {
      const now = this.o.clock();
      const mine = holdsToRelease(this.all(), principal.name, target);
      if (mine.length) {
        chargeOnce();
        await this.release(mine, principal.name, reason ?? null, now, state.revision);
      }
      return {
        released: mine.map((d) => this.view(d, now)),
        otherHolds: holdsOnSite(this.all(), target.site).map((d) => ({
          id: d.id,
          owner: d.owner,
          reason: d.reason,
        })),
      };
    });
  }

  /**
   * Inside a decision: stores the release of these drains in one commit (conditioned on
   * `revision`), then reconciles. Shared by the API and windows.
   */
  async release(
    drains: DrainRecord[],
    actor: string,
    reason: string | null,
    now: number,
    revision: string,
  ): Promise<void> {
    const released = drains.map((drain): DrainRecord => ({
      ...drain,
      status: 'released',
      releasedAt: now,
      releasedBy: actor,
      releaseReason: reason,
    }));
    await this.commit(
      { drains: released, audit: drains.map((d) => this.releaseAudit(d, actor, reason, now)) },
      revision,
    );
    for (const [i, drain] of drains.entries()) {
      Object.assign(drain, released[i]);
      this.drains.set(drain.id, drain);
      this.o.logger.info({ drain: drain.id, by: actor, owner: drain.owner }, 'drain released');
      this.o.events.emit('drain.released', { drain: this.view(drain, now) }, now);
    }
    await this.o.afterChange(`the release of ${drains.map((d) => d.id).join(', ')}`);
  }

  private releaseAudit(drain: DrainRecord, actor: string, reason: string | null, now: number): AuditInput {
    return {
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
        complete: drainComplete(drain.nodes, this.o.observerConfigured),
      },
    };
  }

  // ---------------------------------------------------------------- reads

  async getDrain(id: string): Promise<DrainView> {
    const drain = this.drains.get(id) ?? (await this.o.store.getDrain(id));
    if (!drain) throw new NotFoundError('drain', id);
    return this.view(drain);
  }

  async listDrains(filter: {
    status: 'active' | 'released' | 'all';
    site?: string;
    limit: number;
  }): Promise<DrainView[]> {
    const now = this.o.clock();
    const stored = await this.o.store.listDrains(filter);
    return stored.map((d) => this.view(this.drains.get(d.id) ?? d, now));
  }

  /** The prefixes the route observer should watch: those of every active drain. */
  observedPrefixes(): Set<string> {
    const prefixes = new Set<string>();
    // The reports drain progress reads: on the leader, a node served by another replica counts
    // by its board entry (without it a leader with no agents of its own asked about nothing and
    // its drains waited for the route observer forever).
    const { reports } = this.o.agents.progressInputs();
    for (const drain of activeDrains(this.all())) {
      if (drain.target.prefix) prefixes.add(drain.target.prefix);
      else
        for (const node of nodesOfTarget(this.o.inventory, drain.target))
          for (const p of reports.get(node)?.status.prefixes ?? []) prefixes.add(p.prefix);
    }
    return prefixes;
  }
}

/** `charge` run at most once, however often a decision is made again. */
function once(charge: (() => void) | undefined): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    charge?.();
  };
}
