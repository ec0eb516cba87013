/** Turns anything thrown into an Error, keeping the original as `cause` when it was not one. */
export function coerceError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === 'string' ? value : JSON.stringify(value), { cause: value });
}

/** Exit codes shared by every herald command. */
export const ExitCode = {
  ok: 0,
  error: 1,
  usage: 2,
  refused: 3,
  timedOut: 4,
} as const;

/** An error that carries the exit code the CLI should end with. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = ExitCode.error,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
