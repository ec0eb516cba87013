#!/usr/bin/env node
/**
 * The `herald` command. This file only parses arguments; each command family lives in
 * src/cli/ and calls into the modules that do the work.
 */
import { Command, CommanderError } from 'commander';
import { registerAgentCommands } from './cli/agent-commands.js';
import { registerCoordinatorCommands } from './cli/coordinator-commands.js';
import { registerLabCommands } from './cli/lab-commands.js';
import { CliError, ExitCode } from './util/errors.js';
import { ConfigError } from './config/load.js';
import { version } from './version.js';

const program = new Command('herald')
  .description(
    'Keep an anycast SIP/TURN service reachable: health-check the local proxy and drive ExaBGP (agent), ' +
      'coordinate safe drains across sites (coordinator), and operate it all from the command line.',
  )
  .version(version)
  // A usage error is one line (commander's "error: ..." reworded) pointing at --help, not a page of help.
  .configureOutput({
    outputError: (text, write) =>
      write(`herald: ${text.trim().replace(/^error: /, '')} (--help shows usage)\n`),
  })
  .exitOverride();

registerAgentCommands(program);
registerCoordinatorCommands(program);
registerLabCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // --help and --version end here with code 0; usage errors with 2.
    process.exitCode = error.exitCode === 0 ? 0 : ExitCode.usage;
  } else if (error instanceof ConfigError) {
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
