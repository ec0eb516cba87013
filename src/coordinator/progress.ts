/**
 * Honest drain progress, as pure functions of the agents' reports (and the route observer):
 * a node is `draining` once its agent holds the drain with GRACEFUL_SHUTDOWN acknowledged,
 * `withdrawn` once ExaBGP acknowledged the withdraw, `verified` once the observer no longer
 * sees the node's route. Nothing counts because it was merely asked for. The same goes for a
 * release: a node has `returned` only when its agent dropped the hold and ExaBGP caught up.
 * An agent with a pre-drain (docs/turn.md) holds the drain back while it steers new sessions away
 * and waits for the live ones: the node stays `pending` with the pre-drain's phase and count.
 */
import type { AgentStatus, PreDrainStatus } from '../wire/agent-status.js';
import type { DrainStage, NodeProgress, ReleaseNode } from '../wire/coordinator-api.js';
import { preDrainActive, preDrainPhrase } from '../wire/pre-drain-phrase.js';
import type { DrainRecord, NodeReport } from './model.js';

/**
 * What drain progress reads of an agent's report: its prefixes, the drains it holds, its
 * pre-drain. A report of this replica's agent is one; so is what another replica shares on the
 * health board for the agents connected to it (agent-hub.ts `withSharedReports`).
 */
export interface DrainReport {
  status: Pick<AgentStatus, 'prefixes' | 'drains' | 'preDrain'>;
}

/** What the route observer saw: prefix → nodes whose route it still sees. null = no observation yet. */
export type Observation = ReadonlyMap<string, ReadonlySet<string>> | null;

export interface NodeProgressInput {
  drain: Pick<DrainRecord, 'id' | 'target'>;
  node: string;
  report: DrainReport | undefined;
  stale: boolean;
  observerConfigured: boolean;
  observation: Observation;
  previous: NodeProgress | undefined;
  now: number;
}

function targetedPrefixes(drain: Pick<DrainRecord, 'target'>, report: DrainReport) {
  return report.status.prefixes.filter((p) => !drain.target.prefix || p.prefix === drain.target.prefix);
}

export function agentHolds(drainId: string, report: DrainReport): boolean {
  return (
    report.status.drains.some((d) => d.id === drainId) ||
    report.status.prefixes.some((p) => p.drainedBy.includes(drainId))
  );
}

function stageFromReport(input: NodeProgressInput): { stage: DrainStage; detail: string } {
  const { drain, report } = input;
  if (!report) return { stage: 'pending', detail: 'no report from the agent yet' };
  if (!agentHolds(drain.id, report))
    return { stage: 'pending', detail: 'the agent has not picked up the drain yet' };
  const preDrain = report.status.preDrain;
  if (preDrainActive(preDrain)) return { stage: 'pending', detail: preDrainPhrase(preDrain!) };
  const prefixes = targetedPrefixes(drain, report);
  if (prefixes.every((p) => p.desired === 'withdraw' && p.acknowledged === 'withdraw')) {
    const observed = prefixes.length
      ? prefixes.map((p) => p.prefix)
      : drain.target.prefix
        ? [drain.target.prefix]
        : [];
    if (!input.observerConfigured)
      return {
        stage: 'withdrawn',
        detail: prefixes.length ? 'withdraw acknowledged by ExaBGP' : 'nothing to withdraw',
      };
    const observation = input.observation;
    if (!observation || observed.some((p) => !observation.has(p)))
      return { stage: 'withdrawn', detail: 'withdraw acknowledged; waiting for the route observer' };
    const seen = observed.filter((p) => observation.get(p)?.has(input.node));
    if (seen.length)
      return { stage: 'withdrawn', detail: `withdraw acknowledged; route still seen for ${seen.join(', ')}` };
    return { stage: 'verified', detail: 'route gone at the observer' };
  }
  const graceful = prefixes.every(
    (p) => p.desired !== 'announce' && (p.acknowledged === 'graceful' || p.acknowledged === 'withdraw'),
  );
  if (graceful)
    return { stage: 'draining', detail: 'GRACEFUL_SHUTDOWN acknowledged; holding before withdraw' };
  return { stage: 'pending', detail: 'the agent holds the drain; waiting for ExaBGP to acknowledge' };
}

/** The agent's pre-drain as it concerns this drain: shown once the agent holds the drain and it started. */
function preDrainOf(drainId: string, report: DrainReport | undefined): PreDrainStatus | undefined {
  const preDrain = report?.status.preDrain;
  if (!report || !preDrain || preDrain.phase === 'idle' || !agentHolds(drainId, report)) return undefined;
  return preDrain;
}

/** A finished pre-drain is named after the stage's detail (how it ended, and any command error). */
function withPreDrain(
  computed: { stage: DrainStage; detail: string },
  preDrain: PreDrainStatus | undefined,
): { stage: DrainStage; detail: string; preDrain: PreDrainStatus | undefined } {
  const detail =
    preDrain?.phase === 'complete' ? `${computed.detail}; ${preDrainPhrase(preDrain)}` : computed.detail;
  return { ...computed, detail, preDrain };
}

/** One node's progress. Without a report it keeps the last known stage (e.g. across a coordinator restart). */
export function nodeProgress(input: NodeProgressInput): NodeProgress {
  const computed =
    !input.report && input.previous
      ? { stage: input.previous.stage, detail: input.previous.detail, preDrain: input.previous.preDrain }
      : withPreDrain(stageFromReport(input), preDrainOf(input.drain.id, input.report));
  const since = input.previous && input.previous.stage === computed.stage ? input.previous.since : input.now;
  // `stale` says the stage is the last known one; the detail stays what the agent last showed.
  return {
    node: input.node,
    stage: computed.stage,
    stale: input.stale,
    detail: computed.detail,
    since,
    ...(computed.preDrain ? { preDrain: computed.preDrain } : {}),
  };
}

/**
 * The nodes whose pre-drain still holds this drain back from GRACEFUL_SHUTDOWN: those whose agent
 * reports a pre-drain steering or waiting, and those with a pre-drain configured that have not
 * picked the drain up yet (they will pre-drain first). Until none is left the coordinator keeps
 * the withdraw step closed and does not start counting the graceful hold, so the policy is
 * evaluated again when the pre-drain is over, not when the drain began. An agent that is stale
 * (or never reported) does not hold the step: it cannot be waited for.
 */
export function nodesPreDraining(
  drainId: string,
  nodes: readonly string[],
  reports: ReadonlyMap<string, DrainReport>,
  isStale: (node: string) => boolean,
): string[] {
  return nodes.filter((node) => {
    const report = reports.get(node);
    const preDrain = report?.status.preDrain;
    if (!report || !preDrain || isStale(node)) return false;
    if (agentHolds(drainId, report)) return preDrainActive(preDrain);
    // Not picked up yet: a finished pre-drain (of another drain still in force) does not run again.
    return preDrain.phase !== 'complete';
  });
}

/** The stage every node must reach for the drain to be complete. */
export function finalStage(observerConfigured: boolean): DrainStage {
  return observerConfigured ? 'verified' : 'withdrawn';
}

export function drainComplete(nodes: readonly NodeProgress[], observerConfigured: boolean): boolean {
  const order: DrainStage[] = ['pending', 'draining', 'withdrawn', 'verified'];
  const needed = order.indexOf(finalStage(observerConfigured));
  return nodes.length > 0 && nodes.every((n) => order.indexOf(n.stage) >= needed);
}

export interface ReleaseNodeInput {
  drainId: string;
  target: DrainRecord['target'];
  node: string;
  report: NodeReport | undefined;
  stale: boolean;
  /** Other active holds on this node: "d-… (owner)". */
  otherHolds: readonly string[];
}

/** After a release: has this node dropped the hold, and did ExaBGP catch up? */
export function releaseNodeProgress(input: ReleaseNodeInput): ReleaseNode {
  const { report } = input;
  const base = { node: input.node, stale: input.stale };
  if (!report) return { ...base, stage: 'held', detail: 'no report from the agent yet' };
  if (agentHolds(input.drainId, report))
    return { ...base, stage: 'held', detail: 'the agent still holds the drain' };
  const prefixes = targetedPrefixes({ target: input.target }, report);
  const unsettled = prefixes.filter((p) => p.desired !== p.acknowledged);
  if (unsettled.length)
    return {
      ...base,
      stage: 'returning',
      detail: `waiting for ExaBGP: ${unsettled.map((p) => `${p.prefix} ${p.acknowledged}→${p.desired}`).join(', ')}`,
    };
  const withdrawn = prefixes.filter((p) => p.desired === 'withdraw').map((p) => p.prefix);
  let detail = 'announcing again';
  if (withdrawn.length && input.otherHolds.length) detail = `still drained by ${input.otherHolds.join(', ')}`;
  else if (withdrawn.length && report.status.state === 'UP')
    // Released a moment ago: a healthy agent announces at its next round. Counting it returned now
    // would let `herald undrain --wait` end (and the next site's drain be refused by the floor)
    // while the route is still away.
    return {
      ...base,
      stage: 'returning',
      detail: `healthy; waiting for the agent to announce ${withdrawn.join(', ')}`,
    };
  else if (withdrawn.length) detail = `withdrawn by local health (${report.status.state})`;
  return { ...base, stage: 'returned', detail };
}

export function releaseComplete(nodes: readonly ReleaseNode[]): boolean {
  return nodes.every((n) => n.stage === 'returned' && !n.stale);
}
