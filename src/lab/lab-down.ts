/**
 * `herald lab down`: stops a running lab by name. A live owner gets SIGTERM and removes
 * everything itself; a lab whose owner died is cleaned up from its state file. `herald lab gc`
 * removes what runs with a dead owner left behind.
 */
import { readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { contextFromState } from './context.js';
import { commandLine, isAlive, signal, waitForExit } from './processes.js';
import { isLockOwnerAlive, lockFile, readLock, readState, type LabState } from './state.js';
import { cleanStaleRun, teardownSync } from './teardown.js';
import { waitFor } from './wait.js';

export async function stopLab(name: string, out: (text: string) => void): Promise<void> {
  const lock = readLock(name);
  if (!lock) {
    out(`herald lab: no lab named "${name}" is running\n`);
    return;
  }
  if (isLockOwnerAlive(lock)) {
    out(`herald lab: asking the lab's owner (pid ${lock.pid}) to stop\n`);
    signal(lock.pid, 'SIGTERM');
    try {
      await waitFor(
        () => readLock(name)?.pid === lock.pid && isAlive(lock.pid),
        (running) => !running,
        { timeoutMs: 30_000, pollMs: 100, description: `lab owner ${lock.pid} to finish cleaning up` },
      );
    } catch {
      out(`herald lab: owner ${lock.pid} did not finish in 30 s; killing it and cleaning up here\n`);
      signal(lock.pid, 'SIGKILL');
      await waitForExit([lock.pid], 5000);
    }
  }
  // Whatever is left (owner died, or had to be killed) is removed from the run's state file.
  if (readLock(name)?.pid === lock.pid) {
    cleanStaleRun(lock);
    rmSync(lockFile(name), { force: true });
  }
  out(`herald lab: "${name}" is down\n`);
}

/**
 * Removes the leftovers of every lab run whose owner process is gone (a test runner that was
 * SIGKILLed, a crashed `lab up`): only the namespaces, interface and directory recorded in that
 * run's own state file. Runs whose owner still lives are never touched.
 */
export function collectDeadRuns(out: (text: string) => void, baseDir = tmpdir()): number {
  let removed = 0;
  for (const entry of readdirSync(baseDir)) {
    if (!/^herald-lab-[a-z0-9]+$/.test(entry)) continue;
    const runDir = join(baseDir, entry);
    let state: LabState;
    try {
      state = readState(join(runDir, 'state.json'));
    } catch {
      continue;
    }
    const argv = commandLine(state.ownerPid);
    if (argv && argv.some((arg) => /node/.test(arg))) continue;
    const { plan } = contextFromState(state);
    out(`herald lab: removing run ${state.runId} (owner ${state.ownerPid} is gone): ${runDir}\n`);
    teardownSync(plan, runDir, state.coordinator?.pid);
    if (state.name && readLock(state.name)?.runDir === runDir) rmSync(lockFile(state.name), { force: true });
    removed++;
  }
  return removed;
}
