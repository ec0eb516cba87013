/**
 * The lab's processes on the host side (coordinator replicas, etcd members): started detached in
 * their own process group with output to a log file, so they outlive the `herald lab fault`
 * process that may have (re)started them. They are found again by their command line, which
 * always names a file of the lab's run directory (a config, a data dir), never by a broad name:
 * other labs and other helpers' processes on the machine are left alone.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync } from 'node:fs';
import { commandLine, isAlive, signal, waitForExit } from './processes.js';

/** The environment without ETCD_* / ETCDCTL_* (etcd exits at once when one shadows a flag). */
export function withoutEtcdVariables(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([key]) => !/^ETCD(CTL)?_/.test(key)));
}

/** Starts a process on the host, detached, appending its output to `logFile`. Returns its pid. */
export function spawnOnHost(options: {
  command: string;
  args: string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
}): number {
  const log = openSync(options.logFile, 'a');
  try {
    const child = spawn(options.command, options.args, {
      detached: true,
      stdio: ['ignore', log, log],
      env: options.env ?? process.env,
    });
    child.on('error', () => {});
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start ${options.command}`);
    return child.pid;
  } finally {
    closeSync(log);
  }
}

/** Live processes (not zombies) one of whose arguments is exactly `marker` or contains it. */
export function hostPidsNaming(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const argv = commandLine(pid);
    if (argv?.some((arg) => arg.includes(marker)) && isAlive(pid)) pids.push(pid);
  }
  return pids;
}

/** SIGKILLs (after SIGCONT, for a frozen one) the processes naming `marker`; waits for them. */
export async function killHostProcesses(marker: string): Promise<number[]> {
  const pids = hostPidsNaming(marker);
  for (const pid of pids) {
    signal(pid, 'SIGCONT');
    signal(pid, 'SIGKILL');
  }
  await waitForExit(pids, 5000);
  return pids;
}

/** Exit-time variant of killHostProcesses, synchronous. */
export function killHostProcessesSync(marker: string): void {
  for (const pid of hostPidsNaming(marker)) {
    signal(pid, 'SIGCONT');
    signal(pid, 'SIGKILL');
  }
}
