/**
 * One drain moved forward, as a pure function: its per-node progress from the latest reports
 * (and route observation), its withdraw step once the graceful hold has passed and the policy
 * (re-evaluated now) allows it, completion, and its deadline. Returns the new record, the audit
 * entries to store with it and what happened, for the caller to store, log and announce.
 */
import type { NodeProgress, PolicyEvaluation, Violation } from '../wire/coordinator-api.js';
import type { Inventory } from './fleet.js';
import { nodesOfTarget } from './holds.js';
import { describeTarget, type AuditInput, type DrainRecord, type NodeReport } from './model.js';
import { blockingViolations } from './policy.js';
import { drainComplete, nodeProgress, type Observation } from './progress.js';

export interface AdvanceInput {
  drain: DrainRecord;
  inventory: Inventory;
  reports: ReadonlyMap<string, NodeReport>;
  isStale: (node: string) => boolean;
  observerConfigured: boolean;
  observation: Observation;
  /** The graceful hold when the drain names none. */
  defaultHoldMs: number;
  /** The policy for this drain's withdraw step, evaluated against the fleet as it is now. */
  evaluateWithdraw: () => PolicyEvaluation;
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

  if (drain.phase === 'graceful' && now - drain.createdAt >= (drain.holdMs ?? input.defaultHoldMs)) {
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
