/**
 * One drain moved forward, as a pure function: its per-node progress from the latest reports
 * (and route observation), its withdraw step once the graceful hold has passed and the policy
 * (re-evaluated now) allows it, completion, and its deadline. Returns the new record, the audit
 * entries to store with it and what happened, for the caller to store, log and announce.
 *
 * The graceful hold is a duration, measured on the monotonic clock (GracefulHolds below), never
 * as `now - createdAt`: a wall clock stepped forward (NTP, a VM resuming) used to cut it short
 * and withdraw at once.
 *
 * Pre-drain (docs/turn.md): while an agent of the drain steers new sessions away and waits for
 * the live ones (before its GRACEFUL_SHUTDOWN), the withdraw step stays closed and the graceful
 * hold does not run; it starts when the last pre-drain is over. So the policy is evaluated again
 * after the pre-drain, against the fleet as it is then, and a drain it now refuses stays on
 * GRACEFUL_SHUTDOWN with the rule shown in `blocked`: it never withdraws. No wire change: the
 * agent holds GRACEFUL_SHUTDOWN while the desired phase says 'graceful', as before.
 */
import type { NodeProgress, PolicyEvaluation, Violation } from '../wire/coordinator-api.js';
import type { Inventory, MonotonicClock } from './fleet.js';
import { nodesOfTarget } from './holds.js';
import { describeTarget, type AuditInput, type DrainRecord } from './model.js';
import { blockingViolations } from './policy.js';
import {
  drainComplete,
  nodeProgress,
  nodesPreDraining,
  type DrainReport,
  type Observation,
} from './progress.js';

export interface AdvanceInput {
  drain: DrainRecord;
  inventory: Inventory;
  reports: ReadonlyMap<string, DrainReport>;
  isStale: (node: string) => boolean;
  observerConfigured: boolean;
  observation: Observation;
  /** The graceful hold when the drain names none. */
  defaultHoldMs: number;
  /**
   * How long the drain has held GRACEFUL_SHUTDOWN, monotonic: a number, or GracefulHolds.heldFor
   * given whether every pre-drain of the drain is over (the hold restarts until it is).
   */
  heldForMs: number | ((preDrainsOver: boolean) => number);
  /** The policy for this drain's withdraw step, evaluated against the fleet as it is now. */
  evaluateWithdraw: () => PolicyEvaluation;
  /** Wall clock (unix ms): the times recorded (audit, stages, completion) and the deadline. */
  now: number;
}

export type AdvanceNotice = 'withdraw-step' | 'blocked' | 'completed' | 'overdue';

export interface AdvanceResult {
  next: DrainRecord;
  /** Something worth storing changed (stages, phase, blocking rules, completion, overdue). */
  stored: boolean;
  /** Anything a watcher would see changed (including details). */
  progressed: boolean;
  audit: AuditInput[];
  notices: AdvanceNotice[];
}

function sameViolations(a: readonly Violation[], b: readonly Violation[]): boolean {
  const key = (list: readonly Violation[]) => JSON.stringify(list.map((v) => [v.rule, v.message]));
  return key(a) === key(b);
}

function sameStages(a: readonly NodeProgress[], b: readonly NodeProgress[]): boolean {
  const key = (list: readonly NodeProgress[]) => JSON.stringify(list.map((n) => [n.node, n.stage, n.stale]));
  return key(a) === key(b);
}

export function advanceDrain(input: AdvanceInput): AdvanceResult {
  const { drain, now } = input;
  const base = {
    at: now,
    actor: 'coordinator',
    site: drain.target.site,
    target: describeTarget(drain.target),
    drainId: drain.id,
    windowId: drain.windowId,
    reason: null,
  };
  const audit: AuditInput[] = [];
  const notices: AdvanceNotice[] = [];
  const nodes = nodesOfTarget(input.inventory, drain.target).map((node) =>
    nodeProgress({
      drain,
      node,
      report: input.reports.get(node),
      stale: input.isStale(node),
      observerConfigured: input.observerConfigured,
      observation: input.observation,
      previous: drain.nodes.find((n) => n.node === node),
      now,
    }),
  );
  const next: DrainRecord = { ...drain, nodes };
  let stored = !sameStages(drain.nodes, nodes);
  for (const node of nodes) {
    const before = drain.nodes.find((n) => n.node === node.node);
    if (before?.stage !== node.stage)
      audit.push({
        ...base,
        action: 'drain.step',
        details: { node: node.node, from: before?.stage ?? null, to: node.stage, detail: node.detail },
      });
  }

  const preDraining =
    drain.phase === 'graceful'
      ? nodesPreDraining(
          drain.id,
          nodes.map((n) => n.node),
          input.reports,
          input.isStale,
        )
      : [];
  const heldForMs =
    typeof input.heldForMs === 'number' ? input.heldForMs : input.heldForMs(preDraining.length === 0);
  if (
    drain.phase === 'graceful' &&
    preDraining.length === 0 &&
    heldForMs >= (drain.holdMs ?? input.defaultHoldMs)
  ) {
    const evaluation = input.evaluateWithdraw();
    if (evaluation.allowed) {
      Object.assign(next, { phase: 'withdraw', phaseChangedAt: now, blocked: [] });
      stored = true;
      notices.push('withdraw-step');
      audit.push({
        ...base,
        action: 'drain.step',
        details: { phase: 'withdraw', overridden: evaluation.violations },
      });
    } else {
      const blocking = blockingViolations(evaluation);
      if (!sameViolations(drain.blocked, blocking)) {
        next.blocked = blocking;
        stored = true;
        notices.push('blocked');
        audit.push({ ...base, action: 'drain.blocked', details: { rules: blocking } });
      }
    }
  }

  if (next.completedAt === null && drainComplete(nodes, input.observerConfigured)) {
    next.completedAt = now;
    stored = true;
    notices.push('completed');
    audit.push({
      ...base,
      action: 'drain.completed',
      details: { nodes: nodes.map((n) => `${n.node}:${n.stage}`) },
    });
  }

  if (drain.deadline !== null && now >= drain.deadline && !drain.overdue) {
    next.overdue = true;
    stored = true;
    notices.push('overdue');
    audit.push({ ...base, action: 'drain.overdue', details: { deadline: drain.deadline } });
  }

  const progressed = stored || nodes.some((n, i) => n.detail !== drain.nodes[i]?.detail);
  return { next, stored, progressed, audit, notices };
}

/**
 * How long each drain has held GRACEFUL_SHUTDOWN, on the monotonic clock, from the moment this
 * coordinator process first saw it in that phase: for a drain it creates, its creation (the
 * reconcile pass right after); for one it loads after a restart, its first pass. A restart thus
 * restarts the hold. The wall clock is not used to shorten that (not even as a ceiling): a
 * coordinator often restarts together with a clock step (a VM resuming, NTP at boot), and a hold
 * cut short withdraws while traffic still flows, whereas a restarted one only keeps the lowered
 * preference up to one hold longer.
 */
export class GracefulHolds {
  private readonly since = new Map<string, number>();

  constructor(private readonly monotonic: MonotonicClock) {}

  /**
   * Milliseconds `drain` has held its graceful phase (0 when first seen, or in another phase).
   * `preDrainsOver` false (an agent still pre-drains): 0, and the hold starts again afterwards.
   */
  heldFor(drain: Pick<DrainRecord, 'id' | 'phase'>, preDrainsOver = true): number {
    if (drain.phase !== 'graceful' || !preDrainsOver) {
      this.since.delete(drain.id);
      return 0;
    }
    const now = this.monotonic();
    const since = this.since.get(drain.id);
    if (since === undefined) this.since.set(drain.id, now);
    return since === undefined ? 0 : now - since;
  }

  /** Forgets the drains not in `ids` (released, or gone). */
  retain(ids: Iterable<string>): void {
    const keep = new Set(ids);
    for (const id of this.since.keys()) if (!keep.has(id)) this.since.delete(id);
  }
}
