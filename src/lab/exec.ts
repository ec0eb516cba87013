/**
 * Runs the lab's helper commands (ip, openssl, kamcmd, ...) without a shell. A failure throws
 * LabCommandError naming the command, its exit status and what it printed on stderr.
 */
import { execFile, execFileSync } from 'node:child_process';

export class LabCommandError extends Error {
  constructor(
    readonly command: string[],
    readonly exitCode: number | string | null,
    readonly stderr: string,
  ) {
    super(
      `\`${command.join(' ')}\` failed (exit ${String(exitCode)}): ${stderr.trim().split('\n').slice(-3).join(' | ') || 'no output'}`,
    );
    this.name = 'LabCommandError';
  }
}

export interface RunOptions {
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  input?: string;
}

/** Runs a command and resolves with its stdout; rejects with LabCommandError. */
export function run(command: string, args: string[], options: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      args,
      {
        timeout: options.timeoutMs ?? 30_000,
        env: options.env ?? process.env,
        cwd: options.cwd,
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        if (error) {
          const code = (error as NodeJS.ErrnoException & { code?: number | string }).code ?? null;
          reject(new LabCommandError([command, ...args], code, `${stderr}` || error.message));
        } else resolve(stdout);
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Synchronous variant for exit-time cleanup; never throws, returns stdout or undefined. */
export function runSyncQuiet(command: string, args: string[], timeoutMs = 5000): string | undefined {
  try {
    return execFileSync(command, args, {
      timeout: timeoutMs,
      stdio: ['ignore', 'pipe', 'ignore'],
    }).toString();
  } catch {
    return undefined;
  }
}

/** `ip` with arguments, optionally inside a namespace (`ip -n NS ...`). */
export function ip(args: string[], netns?: string): Promise<string> {
  return run('ip', netns ? ['-n', netns, ...args] : args);
}
