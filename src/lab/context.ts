/**
 * A running lab as seen from any process: its state file plus the plan and paths derived from it.
 * The `lab up` process builds it at start; `herald lab status|fault|down` rebuild it from the file.
 */
import { findNode, planLab, type LabPlan, type NodePlan } from './plan.js';
import { labPaths, type LabPaths, type NodePaths } from './paths.js';
import { readLock, readState, type LabState } from './state.js';
import { join } from 'node:path';
import type { AgentControlOptions } from './agent-control.js';

export interface LabContext {
  state: LabState;
  plan: LabPlan;
  paths: LabPaths;
}

export function contextFromState(state: LabState): LabContext {
  const plan = planLab(state.topology, state.runId, state.managementSubnet);
  return { state, plan, paths: labPaths(state.runDir, plan) };
}

/** The context of the lab that holds the named lock; throws saying how to start one. */
export function contextForName(name: string): LabContext {
  const lock = readLock(name);
  if (!lock)
    throw new Error(
      `no lab named "${name}" is running (no lock file); start one with \`herald lab up\` or \`npm run demo\``,
    );
  return contextFromState(readState(join(lock.runDir, 'state.json')));
}

/** How to reach the lab's agents' control APIs. */
export function controlOptions(context: LabContext): AgentControlOptions {
  return { relaySocket: context.paths.controlRelaySocket, hostLink: context.state.hostLink };
}

export function nodeOf(context: LabContext, name: string): { node: NodePlan; paths: NodePaths } {
  const node = findNode(context.plan, name);
  return { node, paths: context.paths.nodes[node.name]! };
}
