/** How every `herald` command ends on an error: one line on stderr and the exit code it means. */
import { ConfigError } from '../config/config-error.js';
import { CliError, ExitCode } from '../util/errors.js';

export function reportCliError(error: unknown): void {
  if (error instanceof ConfigError) {
    process.stderr.write(`herald: invalid configuration in ${error.message}\n`);
    process.exitCode = ExitCode.usage;
  } else if (error instanceof CliError) {
    process.stderr.write(`herald: ${error.message}\n`);
    process.exitCode = error.exitCode;
  } else {
    process.stderr.write(
      `herald: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = ExitCode.error;
  }
}
