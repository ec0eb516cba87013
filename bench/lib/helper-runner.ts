/**
 * Runs a health announcer (herald's agent, or the reference healthcheck) inside a lab node's
 * namespace with this process playing ExaBGP's side of the process API: every line the helper
 * writes is counted and answered with `done` (herald's barrier, `show neighbor summary`, gets
 * ExaBGP's summary header first). Used to measure what checking costs without an ExaBGP per
 * measured process. The child is stopped by stop() and, if this process dies, by the namespace
 * teardown of the lab.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { BARRIER_COMMAND, SUMMARY_HEADER_LINE } from '../../src/exabgp/index.js';
import { signal, waitForExit } from '../../src/lab/processes.js';

export class HelperRunner {
  /** Lines the helper wrote to "ExaBGP" (announce/withdraw commands). */
  lines = 0;
  /** The last of those lines (the reference announces while its check passes, withdraws when not). */
  lastLine = '';
  stderr = '';
  private readonly child: ChildProcessWithoutNullStreams;
  readonly pid: number;

  constructor(netns: string, command: string, args: string[], cwd?: string) {
    this.child = spawn('ip', ['netns', 'exec', netns, command, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(cwd ? { cwd } : {}),
    });
    if (this.child.pid === undefined) throw new Error(`could not start ${command} in ${netns}`);
    this.pid = this.child.pid;
    this.child.on('error', () => {});
    this.child.stdin.on('error', () => {});
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      if (!this.child.stdin.writable) return;
      if (line === BARRIER_COMMAND) {
        this.child.stdin.write(`${SUMMARY_HEADER_LINE}\ndone\n`);
        return;
      }
      this.lines++;
      this.lastLine = line;
      this.child.stdin.write('done\n');
    });
    this.child.stderr.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async stop(): Promise<void> {
    if (!this.alive) return;
    signal(this.pid, 'SIGTERM');
    for (const pid of await waitForExit([this.pid], 3000)) signal(pid, 'SIGKILL');
  }
}
