/**
 * The agent link's frames: one WebSocket per agent (GET /api/v1/agents/NODE/link, upgraded),
 * JSON text frames, each validated here on the side that receives it. See
 * docs/design/agent-transport.md for the protocol as a whole.
 *
 * Agent → coordinator: `hello` once (the full report and the desired revision it holds), then
 * `report` deltas (only the top-level fields of the report that changed, numbered), `heartbeat`
 * when nothing was sent for an interval, and `applied` when a desired state was taken.
 * Coordinator → agent: `welcome` (the heartbeat interval), `desired` (a versioned desired state,
 * sent only when the agent does not hold that revision), `ack` (a report delta was taken),
 * `interval` (the heartbeat interval changed with the fleet's size).
 */
import { z } from 'zod';
import { agentDesiredSchema, agentStatusSchema, type AgentStatus } from './agent-status.js';

/** Bumped on an incompatible change; the coordinator closes a link speaking another version. */
export const LINK_PROTOCOL = 1;

/** The path of an agent's link (upgraded to a WebSocket). */
export function linkPath(prefix: string, node: string): string {
  return `${prefix}/agents/${encodeURIComponent(node)}/link`;
}

const revisionSchema = z.number().int().nonnegative();

/** A report delta: any subset of the report's top-level fields, each validated as in a full report. */
export const reportDeltaSchema = agentStatusSchema.partial().strict();
export type ReportDelta = z.infer<typeof reportDeltaSchema>;

export const agentFrameSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('hello'),
      protocol: z.literal(LINK_PROTOCOL),
      /** The desired-state revision the agent holds (null: none since it started). */
      revision: revisionSchema.nullable(),
      /** The heartbeat the agent is configured with (coordinator.heartbeat): the interval's floor. */
      heartbeatMs: z.number().int().min(100).max(3_600_000),
      report: agentStatusSchema,
    })
    .strict(),
  z
    .object({ type: z.literal('report'), seq: z.number().int().nonnegative(), changes: reportDeltaSchema })
    .strict(),
  z.object({ type: z.literal('heartbeat') }).strict(),
  z.object({ type: z.literal('applied'), revision: revisionSchema }).strict(),
]);
export type AgentFrame = z.infer<typeof agentFrameSchema>;

export const coordinatorFrameSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('welcome'),
      protocol: z.literal(LINK_PROTOCOL),
      /** Send a frame at least this often; the coordinator drops a link silent for 3 intervals. */
      heartbeatMs: z.number().int().positive(),
      /** The revision of the node's desired state now (sent next unless the agent holds it). */
      revision: revisionSchema,
    })
    .strict(),
  z.object({ type: z.literal('desired'), desired: agentDesiredSchema }).strict(),
  z.object({ type: z.literal('ack'), seq: z.number().int().nonnegative() }).strict(),
  z.object({ type: z.literal('interval'), heartbeatMs: z.number().int().positive() }).strict(),
]);
export type CoordinatorFrame = z.infer<typeof coordinatorFrameSchema>;

/** WebSocket close codes of the link (4000–4999 are the application's). */
export const LINK_CLOSE = {
  /** A frame that is not JSON or does not match its schema; the reason names the field. */
  badFrame: 4400,
  /** The first frame was not a hello, or a hello came twice. */
  protocol: 4409,
  /** Silent for three heartbeat intervals. */
  silent: 4408,
  /** The report names another node or site than the token's. */
  wrongNode: 4403,
  /** The coordinator is shutting down. */
  goingAway: 1001,
} as const;

/**
 * Why a frame was refused, short enough for a close reason (at most 123 bytes): the first
 * problem's path and message.
 */
export function frameProblem(error: z.ZodError): string {
  const issue = error.issues[0];
  const path = issue?.path.length ? issue.path.join('.') : '(frame)';
  return truncateReason(`${path}: ${issue?.message ?? 'invalid'}`);
}

/** WebSocket close reasons are limited to 123 bytes of UTF-8. */
export function truncateReason(text: string): string {
  const buffer = Buffer.from(text, 'utf8');
  if (buffer.length <= 123) return text;
  return `${buffer
    .subarray(0, 120)
    .toString('utf8')
    .replace(/\uFFFD$/, '')}...`;
}

/**
 * The fields of `next` that differ from `previous` (compared as JSON). Top-level granularity is
 * deliberate: the coordinator merges a delta with one object spread, and a report's fields are
 * small arrays that change together.
 */
export function reportDelta(previous: AgentStatus, next: AgentStatus): ReportDelta {
  const changes: Record<string, unknown> = {};
  for (const key of Object.keys(next) as (keyof AgentStatus)[])
    if (JSON.stringify(previous[key]) !== JSON.stringify(next[key])) changes[key] = next[key];
  return changes as ReportDelta;
}

/**
 * What the coordinator acts on, without timings: a report whose significant content changed is
 * sent at once; one where only timings moved (probe durations, timestamps) waits for the next
 * heartbeat slot (see coordinator-link-ws.ts).
 */
export function significantContent(status: AgentStatus): string {
  return JSON.stringify({
    state: status.state,
    healthy: status.healthy,
    holdDown: status.holdDown.active,
    prefixes: status.prefixes.map((p) => [p.prefix, p.state, p.desired, p.acknowledged, p.drainedBy]),
    checks: status.checks.map((c) => [c.name, c.status, c.failOpen, c.panicIgnored ?? false]),
    drains: status.drains.map((d) => [d.id, d.phase ?? null]),
    neighbors: status.neighbors.map((n) => [n.peer, n.state]),
    exabgp: status.exabgp.lastError,
    panic: status.panic ? [status.panic.active, status.panic.ignored] : null,
    preDrain: status.preDrain ? [status.preDrain.phase, status.preDrain.count ?? null] : null,
  });
}

/**
 * The heartbeat interval for a replica holding `agents` links (Nomad's rule): at most
 * `perSecond` heartbeats a second in all, never below the agent's own configured heartbeat.
 */
export function heartbeatInterval(agentHeartbeatMs: number, agents: number, perSecond: number): number {
  return Math.max(agentHeartbeatMs, Math.ceil((agents / perSecond) * 1000));
}
