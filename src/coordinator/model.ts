/**
 * The coordinator's records as the store keeps them: drains, maintenance windows and audit
 * entries. Plain data only; the decisions about them live in the pure modules beside this one.
 */
import type { AgentStatus } from '../wire/agent-status.js';
import type { DrainTarget, NodeProgress, Override, Violation } from '../wire/coordinator-api.js';

export type { DrainTarget };

export interface DrainRecord {
  id: string;
  target: DrainTarget;
  reason: string;
  ticket: string | null;
  /** The token name that asked for it, or "window:<id>" for a scheduled one. */
  owner: string;
  createdAt: number;
  deadline: number | null;
  /** Graceful hold asked for; null = the policy's defaultHold (and the agent's own drainHold). */
  holdMs: number | null;
  overrides: Override[];
  windowId: string | null;
  status: 'active' | 'released';
  phase: 'graceful' | 'withdraw';
  phaseChangedAt: number;
  /** Rules holding the drain before its withdraw step; empty when not blocked. */
  blocked: Violation[];
  overdue: boolean;
  completedAt: number | null;
  /** Last known progress per node (kept so a restarted coordinator resumes from it). */
  nodes: NodeProgress[];
  releasedAt: number | null;
  releasedBy: string | null;
  releaseReason: string | null;
}

export interface WindowOccurrence {
  startedAt: number;
  endsAt: number;
  drainId: string | null;
  ended: boolean;
  /** Rules that refused the drain at this occurrence's start (retried while the window lasts). */
  refused: Violation[];
}

export interface WindowRecord {
  id: string;
  target: DrainTarget;
  cron: string;
  durationMs: number;
  timezone: string | null;
  reason: string;
  ticket: string | null;
  holdMs: number | null;
  autoRelease: boolean;
  owner: string;
  createdAt: number;
  /** The current occurrence, or the last one (kept so a restart neither repeats nor forgets it). */
  occurrence: WindowOccurrence | null;
}

export interface AuditInput {
  at: number;
  actor: string;
  action: string;
  site: string | null;
  target: string;
  drainId?: string | null;
  windowId?: string | null;
  reason?: string | null;
  details?: Record<string, unknown>;
}

/** What the coordinator knows of one agent: its last report and when it arrived. */
export interface NodeReport {
  status: AgentStatus;
  /** Unix ms (wall clock): shown as "last seen", never subtracted from another time. */
  receivedAt: number;
  /** The coordinator's monotonic clock (fleet.ts) when it arrived: staleness is measured from it. */
  receivedAtMono: number;
}

/** "lon1", "lon1/lon1-a", "lon1 198.51.100.10/32": how a target reads in logs and the audit. */
export function describeTarget(target: DrainTarget): string {
  return `${target.site}${target.node ? `/${target.node}` : ''}${target.prefix ? ` ${target.prefix}` : ''}`;
}

/** Who asks for a change (an operator token's name), as the audit log records it. */
export interface Actor {
  name: string;
}
