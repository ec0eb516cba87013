/**
 * Plays ExaBGP's side of the process API for agent integration tests: runs `herald agent` as a
 * child, records every command it writes on stdout, and answers each with `done` (or `error`,
 * or nothing) on its stdin, one at a time like ExaBGP. For tests of the agent process itself;
 * the end-to-end tests use real ExaBGP.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { BARRIER_COMMAND, SUMMARY_HEADER_LINE } from '../../src/exabgp/index.js';
import { AGENT_NODE_FLAGS } from '../../src/agent/memory.js';

const cliPath = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

export type AckMode = 'done' | 'error' | 'silent';

export interface Command {
  line: string;
  at: number;
}

export class FakeExabgp {
  readonly commands: Command[] = [];
  readonly logs: Array<Record<string, unknown>> = [];
  stderr = '';
  ackMode: AckMode = 'done';
  readonly child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(configFile: string) {
    // The node flags every launcher gives the agent (no WebAssembly under them, for one).
    this.child = spawn(
      process.execPath,
      [...AGENT_NODE_FLAGS, '--import', 'tsx', cliPath, 'agent', '--config', configFile],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    this.exited = once(this.child, 'exit').then(([code, signal]) => ({ code, signal }) as never);
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      if (line === BARRIER_COMMAND) {
        // ExaBGP answers the summary with its header (and a row per neighbor), then done.
        if (this.child.stdin.writable) this.child.stdin.write(`${SUMMARY_HEADER_LINE}\ndone\n`);
        return;
      }
      this.commands.push({ line, at: Date.now() });
      if (this.ackMode !== 'silent' && this.child.stdin.writable) this.child.stdin.write(`${this.ackMode}\n`);
    });
    createInterface({ input: this.child.stderr }).on('line', (line) => {
      this.stderr += line + '\n';
      try {
        this.logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    });
  }

  /** Sends a line to the agent as ExaBGP would (e.g. a JSON neighbor state message). */
  send(line: string): void {
    this.child.stdin.write(line + '\n');
  }

  /** Waits until a command matching `pattern` arrives after index `from`; returns it. */
  async waitForCommand(pattern: RegExp, timeoutMs = 15_000, from = 0): Promise<Command> {
    return this.waitFor(
      () => this.commands.slice(from).find((c) => pattern.test(c.line)),
      timeoutMs,
      `a command matching ${pattern}`,
    );
  }

  async waitForLog(pattern: RegExp, timeoutMs = 15_000): Promise<Record<string, unknown>> {
    return this.waitFor(
      () => this.logs.find((l) => pattern.test(String(l.msg))),
      timeoutMs,
      `a log line matching ${pattern}`,
    );
  }

  /** Polls `probe` (sync or async: a promise is awaited, not taken as the value) until it gives a value. */
  async waitFor<T>(
    probe: () => T | undefined | Promise<T | undefined>,
    timeoutMs: number,
    what: string,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
      if (Date.now() > deadline)
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${what}; commands:\n${this.commands.map((c) => c.line).join('\n')}\nstderr:\n${this.stderr.slice(-3000)}`,
        );
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async controlUrl(): Promise<string> {
    const log = await this.waitForLog(/control listener on/);
    return `http://${String(log.control)}`;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}
