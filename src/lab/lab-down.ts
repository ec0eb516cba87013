/**
 * `herald lab down`: stops a running lab by name. A live owner gets SIGTERM and removes
 * everything itself; a lab whose owner died is cleaned up from its state file.
 */
import { rmSync } from 'node:fs';
import { isAlive, signal, waitForExit } from './processes.js';
import { isLockOwnerAlive, lockFile, readLock } from './state.js';
import { cleanStaleRun } from './teardown.js';
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
