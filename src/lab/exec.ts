/**
 * Runs the lab's helper commands (ip, openssl, kamcmd, ...) with execa, without a shell. A
 * failure throws LabCommandError naming the command, its exit status and what it printed on stderr.
 */
import { execa, execaSync } from 'execa';

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
export async function run(command: string, args: string[], options: RunOptions = {}): Promise<string> {
  const result = await execa(command, args, {
    timeout: options.timeoutMs ?? 30_000,
    ...(options.env ? { env: options.env, extendEnv: false } : {}),
    ...(options.cwd ? { cwd: options.cwd } : {}),
    ...(options.input !== undefined ? { input: options.input } : {}),
    maxBuffer: 16 * 1024 * 1024,
    stripFinalNewline: false,
    reject: false,
  });
  if (result.failed)
    throw new LabCommandError(
      [command, ...args],
      result.exitCode ?? result.code ?? result.signal ?? null,
      result.stderr || (result.shortMessage ?? ''),
    );
  return result.stdout;
}

/** Synchronous variant for exit-time cleanup; never throws, returns stdout or undefined. */
export function runSyncQuiet(command: string, args: string[], timeoutMs = 5000): string | undefined {
  const result = execaSync(command, args, {
    timeout: timeoutMs,
    stdin: 'ignore',
    stderr: 'ignore',
    stripFinalNewline: false,
    reject: false,
  });
  return result.failed ? undefined : result.stdout;
}

/** `ip` with arguments, optionally inside a namespace (`ip -n NS ...`). */
export function ip(args: string[], netns?: string): Promise<string> {
  return run('ip', netns ? ['-n', netns, ...args] : args);
}
