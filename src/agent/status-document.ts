/**
 * The agent's status document (GET /status, the coordinator report, the metrics gauges), built
 * from what the loop holds. Pure: every input, clocks included, is passed in.
 */
import {
  announcementFor,
  nodeState,
  prefixState,
  type MachineParams,
  type MachineState,
} from '../health/state-machine.js';
import type { NeighborState, PrefixWriteStatus } from '../exabgp/route-writer.js';
import type {
  AgentStatus,
  CheckStatus,
  DrainSource,
  PanicDirective,
  PreDrainStatus,
} from '../wire/agent-status.js';
import { drainIdsFor } from './drain-sources.js';
import { announcementOf } from './route-intents.js';
import { healthAndHoldDown } from './status-view.js';

export interface StatusInputs {
  node: string;
  site: string;
  version: string;
  startedAt: number;
  /** Unix ms. */
  wallNow: number;
  /** Monotonic ms (hold-down arithmetic). */
  monoNow: number;
  prefixes: readonly string[];
  machine: MachineState;
  params: MachineParams;
  checks: readonly CheckStatus[];
  drains: DrainSource[];
  written: readonly PrefixWriteStatus[];
  neighbors: ReadonlyMap<string, NeighborState>;
  exabgp: { ackFailures: number; lastError: string | null };
  coordinator?: { connected: boolean; lastContactAt: number | null } | undefined;
  preDrain?: PreDrainStatus | undefined;
  panic?:
    { directive: PanicDirective; active: boolean; expiresAt: number | null; ignored: string[] } | undefined;
}

export function buildAgentStatus(input: StatusInputs): AgentStatus {
  const { machine } = input;
  const acknowledged = new Map(input.written.map((s) => [s.prefix, s]));
  return {
    node: input.node,
    site: input.site,
    version: input.version,
    startedAt: input.startedAt,
    reportedAt: input.wallNow,
    state: nodeState(machine),
    ...healthAndHoldDown(machine, input.params, input.monoNow),
    prefixes: input.prefixes.map((prefix) => {
      const written = acknowledged.get(prefix);
      const ack = written?.acknowledged;
      return {
        prefix,
        state: prefixState(machine, prefix),
        desired: announcementFor(machine, prefix),
        acknowledged: !ack || ack === 'unknown' ? 'unknown' : announcementOf(ack),
        acknowledgedAt: written?.acknowledgedAt ?? null,
        drainedBy: drainIdsFor(input.drains, prefix),
      };
    }),
    checks: [...input.checks],
    drains: input.drains,
    neighbors: [...input.neighbors.values()],
    exabgp: input.exabgp,
    ...(input.coordinator ? { coordinator: input.coordinator } : {}),
    ...(input.preDrain ? { preDrain: input.preDrain } : {}),
    ...(input.panic
      ? {
          panic: {
            active: input.panic.active,
            since: input.panic.directive.since,
            reason: input.panic.directive.reason,
            expiresAt: input.panic.expiresAt,
            ignored: input.panic.ignored,
          },
        }
      : {}),
  };
}

/** What a person would see change: timestamps, latencies and detail wording are not a change. */
export function statusFingerprint(status: AgentStatus): string {
  return JSON.stringify({
    ...status,
    reportedAt: 0,
    holdDown: { ...status.holdDown, remainingMs: 0 },
    checks: status.checks.map((c) => ({ ...c, at: 0, durationMs: 0, detail: c.status })),
  });
}
