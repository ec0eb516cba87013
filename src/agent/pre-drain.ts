/**
 * The agent's pre-drain, ready to use at its drain call sites: with `preDrain` configured, a
 * PreDrainGate whose filter holds drains back while it steers and waits for sessions; without
 * it, a pass-through. Also turns the phase into the status document's `preDrain` field.
 */
import type { AgentConfig } from '../config/agent-schema.js';
import type { Logger } from '../util/log.js';
import type { PreDrainStatus } from '../wire/agent-status.js';
import { createPreDrainExecutor } from './pre-drain-executor.js';
import { PreDrainGate } from './pre-drain-gate.js';
import type { PreDrainState } from './pre-drain-phase.js';

export interface AgentPreDrain {
  /** What the state machine may act on, given what the drains hold. */
  filter(held: Map<string, number>): Map<string, number>;
  /** For the status document; undefined without a pre-drain configured. */
  status(): PreDrainStatus | undefined;
  stop(): void;
}

export function statusOf(state: PreDrainState, threshold: number, deadlineMs: number): PreDrainStatus {
  if (state.phase === 'idle') return { phase: 'idle', threshold };
  return {
    phase: state.phase,
    threshold,
    since: state.since,
    deadlineAt: state.since + deadlineMs,
    steered: state.steered,
    ...(state.count !== undefined ? { count: state.count } : {}),
    ...(state.phase !== 'complete' && state.countAt !== undefined ? { countAt: state.countAt } : {}),
    ...(state.phase === 'complete' ? { reason: state.reason, completedAt: state.completedAt } : {}),
    ...(state.steerError !== undefined ? { steerError: state.steerError } : {}),
    ...(state.gaugeError !== undefined ? { gaugeError: state.gaugeError } : {}),
  };
}

export function createAgentPreDrain(
  config: AgentConfig,
  logger: Logger,
  onChange: () => void,
): AgentPreDrain {
  const preDrain = config.preDrain;
  if (!preDrain) return { filter: (held) => held, status: () => undefined, stop: () => {} };
  const gate = new PreDrainGate({
    config: preDrain,
    executor: createPreDrainExecutor(preDrain),
    // Later, not inside the drain evaluation that moved the phase.
    onChange: () => void setImmediate(onChange),
    log: (level, fields, message) => logger[level](fields, message),
  });
  return {
    filter: (held) => new Map(gate.filter(held)),
    status: () => statusOf(gate.status(), preDrain.threshold, preDrain.deadline),
    stop: () => gate.stop(),
  };
}
