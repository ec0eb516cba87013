/**
 * Removing what a lab run created, synchronously and best-effort: used by exit handlers (when
 * there is no time for the orderly release) and for the leftovers of a run whose owner died.
 * Only the namespaces, interface and directory named in that run's own plan are touched.
 */
import { rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { contextFromState } from './context.js';
import { runSyncQuiet } from './exec.js';
import { killHostProcessesSync } from './host-processes.js';
import { deleteNamespacesSync } from './network.js';
import type { LabPlan } from './plan.js';
import { commandLine, signal } from './processes.js';
import { readState, type LabLock } from './state.js';

export function teardownSync(plan: LabPlan, runDir: string, coordinatorPid?: number): void {
  if (coordinatorPid && (commandLine(coordinatorPid) ?? []).some((arg) => arg.includes('coordinator')))
    signal(coordinatorPid, 'SIGKILL');
  // Host-side processes of this run (coordinator replicas, etcd members) name a file in it.
  if (/^herald-lab-[a-z0-9]+$/.test(basename(runDir))) killHostProcessesSync(`${runDir}/`);
  deleteNamespacesSync(plan.namespaces);
  runSyncQuiet('ip', ['link', 'del', plan.host.ifName]);
  // Only ever a lab run directory, whatever a (possibly edited) state file says.
  if (/^herald-lab-[a-z0-9]+$/.test(basename(runDir))) rmSync(runDir, { recursive: true, force: true });
}

/** Cleans up after a lab whose owner died without cleaning (its lock was left behind). */
export function cleanStaleRun(lock: LabLock): void {
  try {
    const context = contextFromState(readState(join(lock.runDir, 'state.json')));
    teardownSync(context.plan, context.state.runDir, context.state.coordinator?.pid);
  } catch {
    // No readable state: the run died before creating anything worth finding.
  }
}
