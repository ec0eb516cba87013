/**
 * The agent's pre-drain, ready to use at its drain call sites: with `preDrain` configured, a
 * PreDrainGate whose filter holds drains back while it steers and waits for sessions; without
 * it, a pass-through. The node's `preDrain` and each check's `preDrain` each get a gate; a drain
 * goes on only when all are done. Also turns the phases into the status document's `preDrain`.
 */
import type { AgentConfig, PreDrainConfig } from '../config/agent-schema.js';
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

/**
 * One status for several pre-drains (the node's and each check's), in the same shape as one:
 * the least advanced phase, the sum of the counts and thresholds, the earliest start and the
 * latest deadline, steered only if all steered, and every error prefixed with its owner. Pure.
 */
export function combineStatuses(parts: readonly { owner: string; status: PreDrainStatus }[]): PreDrainStatus {
  if (parts.length === 1) return parts[0]!.status;
  const order = { steering: 0, waiting: 1, complete: 2, idle: 3 } as const;
  const phase = parts.map((p) => p.status.phase).sort((a, b) => order[a] - order[b])[0] ?? 'idle';
  const threshold = parts.reduce((sum, p) => sum + p.status.threshold, 0);
  if (phase === 'idle') return { phase, threshold };
  const active = parts.filter((p) => p.status.phase !== 'idle').map((p) => p.status);
  const numbers = (pick: (s: PreDrainStatus) => number | undefined) =>
    active.map(pick).filter((n): n is number => n !== undefined);
  const counts = numbers((s) => s.count);
  const errors = (pick: (s: PreDrainStatus) => string | undefined) => {
    const list = parts.flatMap((p) => {
      const error = pick(p.status);
      return error === undefined ? [] : [`${p.owner}: ${error}`];
    });
    return list.length ? list.join('; ') : undefined;
  };
  const steerError = errors((s) => s.steerError);
  const gaugeError = errors((s) => s.gaugeError);
  const complete = phase === 'complete';
  return {
    phase,
    threshold,
    since: Math.min(...numbers((s) => s.since)),
    deadlineAt: Math.max(...numbers((s) => s.deadlineAt)),
    steered: active.every((s) => s.steered === true),
    ...(counts.length ? { count: counts.reduce((a, b) => a + b, 0) } : {}),
    ...(!complete && numbers((s) => s.countAt).length
      ? { countAt: Math.max(...numbers((s) => s.countAt)) }
      : {}),
    ...(complete
      ? {
          reason: active.some((s) => s.reason === 'deadline')
            ? ('deadline' as const)
            : ('threshold' as const),
          completedAt: Math.max(...numbers((s) => s.completedAt)),
        }
      : {}),
    ...(steerError !== undefined ? { steerError } : {}),
    ...(gaugeError !== undefined ? { gaugeError } : {}),
  };
}

/** Every configured pre-drain: the node's (`preDrain`) and each check's (`checks[].preDrain`). */
export function configuredPreDrains(config: AgentConfig): { owner: string; config: PreDrainConfig }[] {
  return [
    ...(config.preDrain ? [{ owner: 'node', config: config.preDrain }] : []),
    ...config.checks.flatMap((check) =>
      check.preDrain ? [{ owner: `check ${check.name}`, config: check.preDrain }] : [],
    ),
  ];
}

export function createAgentPreDrain(
  config: AgentConfig,
  logger: Logger,
  onChange: () => void,
): AgentPreDrain {
  const configured = configuredPreDrains(config);
  if (!configured.length) return { filter: (held) => held, status: () => undefined, stop: () => {} };
  const gates = configured.map(({ owner, config: preDrain }) => ({
    owner,
    preDrain,
    gate: new PreDrainGate({
      config: preDrain,
      executor: createPreDrainExecutor(preDrain),
      // Later, not inside the drain evaluation that moved the phase.
      onChange: () => void setImmediate(onChange),
      log: (level, fields, message) => logger[level]({ ...fields, preDrain: owner }, message),
    }),
  }));
  return {
    // Every gate sees every change of the drains (each steers and releases on its own); the drain
    // reaches the state machine only once none of them holds it back.
    filter: (held) => {
      const results = gates.map(({ gate }) => gate.filter(held));
      return held.size > 0 && results.some((r) => r.size === 0) ? new Map() : new Map(held);
    },
    status: () =>
      combineStatuses(
        gates.map(({ owner, preDrain, gate }) => ({
          owner,
          status: statusOf(gate.status(), preDrain.threshold, preDrain.deadline),
        })),
      ),
    stop: () => gates.forEach(({ gate }) => gate.stop()),
  };
}
