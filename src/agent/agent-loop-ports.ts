/**
 * What the AgentLoop is injected with (agent-loop.ts): clocks and timers (with the real ones),
 * the one route writer to ExaBGP, the coordinator link, the drain inputs and the checks. Types
 * only, plus the two system adapters, so tests and run-agent.ts can build a loop's parts without
 * reading the loop.
 */
import type { AgentConfig, CheckConfig } from '../config/agent-schema.js';
import type { Probe } from '../probes/types.js';
import type { NeighborState, PrefixWriteStatus } from '../exabgp/route-writer.js';
import type { RouteIntent } from '../exabgp/commands.js';
import type { AgentStatus, DrainSource } from '../wire/agent-status.js';
import type { Logger } from '../util/log.js';
import type { AgentPreDrain } from './pre-drain.js';
import type { AgentMetrics } from './metrics.js';
import type { PanicContact } from './panic-state.js';

export interface AgentClock {
  /** Monotonic ms: every duration and deadline. */
  now(): number;
  /** Unix ms: timestamps shown to people and written to files. */
  wallNow(): number;
}

export type TimerHandle = unknown;

export interface AgentTimers {
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
}

export const systemClock: AgentClock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
};

export const systemTimers: AgentTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout | undefined),
};

/** The part of the RouteWriter the loop uses: the one writer to ExaBGP. */
export interface RouteSink {
  setDesired(intents: readonly RouteIntent[]): void;
  status(): PrefixWriteStatus[];
  neighborStates(): ReadonlyMap<string, NeighborState>;
  readonly ackFailures: number;
  readonly lastError: string | null;
  onChange(listener: () => void): () => void;
  /** Resolves true once ExaBGP acknowledged every desired intent, false after timeoutMs. */
  whenConverged(timeoutMs: number): Promise<boolean>;
}

/** The coordinator link as the loop sees it. */
export interface StatusLink extends PanicContact {
  report(status: AgentStatus): void;
}

export interface DrainInputs {
  sources(): DrainSource[];
}

export interface AgentCheck {
  config: CheckConfig;
  probe: Probe;
}

export interface AgentLoopOptions {
  config: AgentConfig;
  checks: readonly AgentCheck[];
  writer: RouteSink;
  drains: DrainInputs;
  logger: Logger;
  metrics: AgentMetrics;
  clock?: AgentClock;
  timers?: AgentTimers;
  link?: StatusLink | undefined;
  /** The previous agent was UP moments ago: write nothing until the first round decided. */
  warm?: boolean;
  /** Records the warm-start state (may throw: the loop logs it and starts cold next time). */
  recordLastUp?: (up: boolean, wallMs: number) => void;
  /** Holds drains back while sessions are steered away and end (pre-drain.ts); none: drains act at once. */
  preDrain?: AgentPreDrain;
}
