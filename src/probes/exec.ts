/**
 * The exec check: runs a program without a shell; exit 0 is up, anything else is down with
 * the first line of its stderr. The program leads its own process group (detached), and the
 * whole group is killed with SIGKILL when the probe ends — on timeout, on abort, and after a
 * normal exit too — so a check that leaves a grandchild behind leaks nothing.
 */
import type { ExecCheckConfig } from '../config/agent-schema.js';
import { coerceError } from '../util/errors.js';
import { down, runAttempt, type ProbeOutcome } from './attempt.js';
import type { Probe, ProbeResult } from './types.js';

export type ExecProbeConfig = Pick<ExecCheckConfig, 'command' | 'timeout'>;

/** Enough stderr for a first line; the rest is read and dropped so the pipe never fills. */
const STDERR_KEEP_BYTES = 4096;
const DETAIL_MAX_CHARS = 200;

/** The first non-empty line of stderr, trimmed and shortened for a status line. */
export function firstLine(text: string): string | undefined {
  const line = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find((l) => l.length > 0);
  if (line === undefined) return undefined;
  return line.length > DETAIL_MAX_CHARS ? `${line.slice(0, DETAIL_MAX_CHARS)}…` : line;
}

/** Sends SIGKILL to a whole process group; a group already gone is fine. */
export function killProcessGroup(pid: number | undefined): void {
  // pid 0 or 1 would signal our own group or every process: never.
  if (pid === undefined || !Number.isInteger(pid) || pid <= 1) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // ESRCH: the group has no members left.
  }
}

let execaLoading: Promise<typeof import('execa').execa> | undefined;

/**
 * execa, loaded once and only by an agent that runs commands: it and its dependencies cost every
 * other agent MiBs of memory (bench `cost`). Users start loading it when they are created and
 * await it before a run's deadline starts.
 */
export function loadExeca(): Promise<typeof import('execa').execa> {
  return (execaLoading ??= import('execa').then((module) => module.execa));
}

export function createExecProbe(config: ExecProbeConfig): Probe {
  const [file, ...args] = config.command as [string, ...string[]];
  loadExeca().catch(() => {}); // a failure shows in the probe that awaits it
  return async (context = {}): Promise<ProbeResult> => {
    // Loaded before the deadline starts: the check's timeout is the command's, and a first round
    // right after the agent starts would otherwise spend part of it importing execa.
    const attemptOptions = { timeoutMs: config.timeout, signal: context.signal };
    let execa: Awaited<ReturnType<typeof loadExeca>>;
    try {
      execa = await loadExeca();
    } catch (error) {
      const message = coerceError(error).message;
      return runAttempt(attemptOptions, () => Promise.resolve(down(`cannot run ${file}: ${message}`)));
    }
    return runAttempt(attemptOptions, (attempt) => {
      return new Promise<ProbeOutcome>((resolve) => {
        attempt.waitingFor(`waiting for ${file} to exit`);
        const subprocess = execa(file, args, {
          detached: true,
          reject: false,
          shell: false,
          stdin: 'ignore',
          // Discarded: in the agent, stdout belongs to ExaBGP and a check must never write to it.
          stdout: 'ignore',
          stderr: 'pipe',
          buffer: false,
          cleanup: false,
        });
        const pid = subprocess.pid;
        attempt.onEnd(() => killProcessGroup(pid));
        let stderr = '';
        let stderrClosed = false;
        let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;

        const settleIfReady = () => {
          if (!exited) return;
          const took = `${Math.round(attempt.elapsedMs())} ms`;
          if (exited.code === 0)
            return resolve({ status: 'up', detail: `exit 0 in ${took}`, answered: true });
          // A failure's first stderr line may still be in the pipe when 'exit' fires: wait for a
          // whole line or the end of stderr (the process group is killed, so the end comes).
          if (!stderrClosed && !/\S[^\n]*\n/.test(stderr)) {
            attempt.waitingFor(
              `waiting for the stderr of ${file}, which exited with ${exited.code ?? exited.signal}`,
            );
            return;
          }
          const line = firstLine(stderr);
          const how = exited.signal ? `killed by ${exited.signal}` : `exit code ${exited.code}`;
          resolve(down(line ? `${how}: ${line}` : `${how} (nothing on stderr)`, { answered: true }));
        };

        subprocess.stderr?.on('data', (chunk: Buffer) => {
          if (stderr.length < STDERR_KEEP_BYTES) stderr += chunk.toString('utf8', 0, STDERR_KEEP_BYTES);
          settleIfReady();
        });
        subprocess.stderr?.on('close', () => {
          stderrClosed = true;
          settleIfReady();
        });
        subprocess.on('exit', (code, signal) => {
          exited = { code, signal };
          // Background children of a finished check must not outlive it (nor hold stderr open).
          killProcessGroup(pid);
          settleIfReady();
        });
        // Resolves (reject: false) also when the program cannot be started at all.
        subprocess.then(
          (result) => {
            if (result.failed && pid === undefined)
              resolve(down(`cannot run ${file}: ${result.originalMessage || result.shortMessage}`));
          },
          (error: unknown) => resolve(down(`cannot run ${file}: ${coerceError(error).message}`)),
        );
      });
    });
  };
}
