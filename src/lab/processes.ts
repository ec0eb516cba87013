/**
 * Starting, finding and stopping the lab's daemons. Each daemon runs inside a namespace in its own
 * process group with its output in a log file, so it survives the `herald lab fault` process that
 * may have started it. Processes are found again by namespace (`ip netns pids`) and command line,
 * never by a broad name: other runs on the same machine are left alone.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { ip, runSyncQuiet } from './exec.js';
import { delay } from './wait.js';

export interface SpawnOptions {
  netns: string;
  command: string;
  args: string[];
  logFile: string;
  env?: Record<string, string>;
  cwd?: string;
}

/** Starts a daemon inside a namespace, detached, in its own process group. Returns its pid. */
export function spawnInNamespace(options: SpawnOptions): number {
  const log = openSync(options.logFile, 'a');
  try {
    // `ip netns exec` execs the command, so the pid is the daemon's own.
    const child = spawn('ip', ['netns', 'exec', options.netns, options.command, ...options.args], {
      detached: true,
      stdio: ['ignore', log, log],
      env: { ...process.env, ...options.env },
      ...(options.cwd ? { cwd: options.cwd } : {}),
    });
    child.on('error', () => {});
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start ${options.command} in ${options.netns}`);
    return child.pid;
  } finally {
    closeSync(log);
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie still "exists"; treat it as dead.
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Whether a process is stopped (SIGSTOP: a frozen daemon). */
export function isStopped(pid: number): boolean {
  try {
    return /^\S+ \(.*\) T/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** The command line of a process as its arguments, or undefined if it is gone. */
export function commandLine(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
}

/** Sends a signal, ignoring "no such process". */
export function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** Pids of every process inside a namespace. */
export async function namespacePids(netns: string): Promise<number[]> {
  try {
    const output = await ip(['netns', 'pids', netns]);
    return output
      .split(/\s+/)
      .filter((text) => /^\d+$/.test(text))
      .map(Number);
  } catch {
    return [];
  }
}

export function namespacePidsSync(netns: string): number[] {
  const output = runSyncQuiet('ip', ['netns', 'pids', netns]) ?? '';
  return output
    .split(/\s+/)
    .filter((text) => /^\d+$/.test(text))
    .map(Number);
}

/** Processes in a namespace whose command line matches. */
export async function findInNamespace(
  netns: string,
  matches: (argv: string[]) => boolean,
): Promise<number[]> {
  const pids = await namespacePids(netns);
  return pids.filter((pid) => {
    const argv = commandLine(pid);
    return !!argv && matches(argv);
  });
}

/** Waits until none of the pids is alive; returns those still alive at the deadline. */
export async function waitForExit(pids: number[], timeoutMs: number): Promise<number[]> {
  const deadline = performance.now() + timeoutMs;
  let alive = pids.filter(isAlive);
  while (alive.length && performance.now() < deadline) {
    await delay(20);
    alive = alive.filter(isAlive);
  }
  return alive;
}

/**
 * Stops every process in a namespace: SIGCONT first (a frozen process cannot act on SIGTERM),
 * then SIGTERM, then SIGKILL for whatever is left after graceMs.
 */
export async function stopNamespaceProcesses(netns: string, graceMs = 1500): Promise<void> {
  for (let round = 0; round < 3; round++) {
    const pids = await namespacePids(netns);
    if (!pids.length) return;
    for (const pid of pids) signal(pid, 'SIGCONT');
    for (const pid of pids) signal(pid, round === 0 ? 'SIGTERM' : 'SIGKILL');
    const left = await waitForExit(pids, round === 0 ? graceMs : 1000);
    for (const pid of left) signal(pid, 'SIGKILL');
  }
}

/** Exit-time variant: SIGCONT and SIGKILL everything in the namespace, synchronously. */
export function killNamespaceProcessesSync(netns: string): void {
  for (const pid of namespacePidsSync(netns)) {
    signal(pid, 'SIGCONT');
    signal(pid, 'SIGKILL');
  }
}
