/**
 * How the agent's status document shows health and flap damping apart: `healthy` says whether
 * the checks pass (after quorum and `rise`), whether or not a hold-down keeps the node from
 * announcing; `holdDown` says whether one does, and for how much longer. A held-down node with
 * passing checks is RISING, healthy and held down — not "failing". Pure.
 */
import { holdDownView, type MachineParams, type MachineState } from '../health/state-machine.js';
import type { AgentStatus } from '../wire/agent-status.js';

/** Whether the checks pass: UP or FALLING (hysteresis), or RISING with `rise` good rounds behind it (held down). */
export function checksPass(machine: MachineState, params: MachineParams): boolean {
  if (machine.health === 'UP' || machine.health === 'FALLING') return true;
  return machine.health === 'RISING' && machine.good >= params.rise;
}

/** The `healthy` and `holdDown` fields of the status document at monotonic time `now`. */
export function healthAndHoldDown(
  machine: MachineState,
  params: MachineParams,
  now: number,
): Pick<AgentStatus, 'healthy' | 'holdDown'> {
  return { healthy: checksPass(machine, params), holdDown: holdDownView(machine, params, now) };
}
