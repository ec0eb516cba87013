/** Small builders shared by the coordinator's unit tests: drain records and agent reports. */
import type { DrainRecord, NodeReport } from '../../../src/coordinator/model.js';
import type { AgentStatus, Announcement, HealthState } from '../../../src/wire/agent-status.js';
import type { DrainTarget } from '../../../src/wire/coordinator-api.js';

export function drainRecord(id: string, target: DrainTarget, extra: Partial<DrainRecord> = {}): DrainRecord {
  return {
    id,
    target,
    reason: `reason of ${id}`,
    ticket: null,
    owner: 'alice',
    createdAt: 1000,
    deadline: null,
    holdMs: null,
    overrides: [],
    windowId: null,
    status: 'active',
    phase: 'graceful',
    phaseChangedAt: 1000,
    blocked: [],
    overdue: false,
    completedAt: null,
    nodes: [],
    releasedAt: null,
    releasedBy: null,
    releaseReason: null,
    ...extra,
  };
}

export interface PrefixReport {
  prefix: string;
  desired: Announcement;
  acknowledged: Announcement | 'unknown';
  drainedBy?: string[];
  state?: HealthState;
}

export function report(
  node: string,
  site: string,
  prefixes: PrefixReport[],
  options: { healthy?: boolean; drains?: string[]; receivedAt?: number } = {},
): NodeReport {
  const status: AgentStatus = {
    node,
    site,
    version: 'test',
    startedAt: 0,
    reportedAt: 0,
    state: 'UP',
    healthy: options.healthy ?? true,
    holdDown: { active: false, remainingMs: 0, penalty: 0, flaps: 0 },
    prefixes: prefixes.map((p) => ({
      prefix: p.prefix,
      state: p.state ?? 'UP',
      desired: p.desired,
      acknowledged: p.acknowledged,
      acknowledgedAt: 0,
      drainedBy: p.drainedBy ?? [],
    })),
    checks: [],
    drains: (options.drains ?? []).map((id) => ({
      id,
      source: 'coordinator' as const,
      reason: 'x',
      since: 0,
    })),
    neighbors: [],
    exabgp: { ackFailures: 0, lastError: null },
  };
  // One fake clock for both: the wall time shown and the monotonic time staleness is measured on.
  return { status, receivedAt: options.receivedAt ?? 1000, receivedAtMono: options.receivedAt ?? 1000 };
}
